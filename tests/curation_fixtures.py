"""Small inputs for the curation tools' tests: a simulated recording (their trained run:
`training_fixtures.trained_run`)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from obstacles.infra.config import CONF_DIR

SITE = "plant_202209_01"  # a registered site (conf/site/), so site=<id> composes


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
