"""Small inputs for the curation tools' tests: a simulated recording, and the review page's config
and data (their trained run: `tests.helpers.training.trained_run`)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from omegaconf import OmegaConf

from obstacles.infra.config import CONF_DIR, compose

SITE = "plant_202209_01"  # a registered site (conf/site/), so site=<id> composes
REVIEW_DATA = re.compile(r'<script type="application/json" id="review-data">(.*?)</script>', re.S)


def simulated_recording(root: Path, *, n_frames: int = 24, panel: int = 64, seed: int = 1) -> Path:
    """`<root>/data/recordings/<SITE>/{images,json}` (triplets) and `<root>/labels/<SITE>.csv`,
    from the project's simulator; one frame per burst, so no two frames are near-duplicates."""
    from obstacles.simulation.recorder import simulate_site

    config = OmegaConf.load(Path(CONF_DIR) / "simulate.yaml")
    common = config.common
    common.panel_size = panel
    common.bursts.frames = [1, 1]
    spec = config.sites[SITE]
    spec.n_frames = n_frames
    simulate_site(root / "data" / "recordings", root / "labels", SITE, spec, common, seed=seed)
    return root / "data" / "recordings" / SITE


def review_cfg(root: Path, *overrides: str):
    """conf/review.yaml for SITE, rooted at root."""
    return compose("review", [f"paths.root_dir={root}", f"site={SITE}", "workers=1", *overrides])


def page_data(page: Path) -> dict:
    """The data the review page's script reads (its JSON block)."""
    return json.loads(REVIEW_DATA.search(page.read_text()).group(1))


def index_rows(root: Path) -> list[dict[str, str]]:
    """SITE's triage index (what the review page lists, in its order)."""
    with (root / "datasets" / SITE / "src" / "index.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))
