"""Small inputs for the curation tools' tests: a tiny trained run and a simulated recording."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from obstacles.config import CONF_DIR
from training_fixtures import train_cfg, write_pair_dataset

RUN_NAME = "001.tiny.debug-field_cnn"
SITE = "plant_202209_01"  # a registered site (conf/site/), so site=<id> composes


_TRAINED: dict[tuple, Path] = {}  # per test process: one training per set of arguments


def _train(root: Path, overrides: tuple[str, ...], n_pairs: int, panel: int) -> Path:
    from obstacles.training.job import train

    write_pair_dataset(root, n_pairs=n_pairs, panel=panel)
    run = root / "experiments" / RUN_NAME
    quick = ("model=field_cnn", "debug=limit", "logger=none", "trainer.max_epochs=1")
    cfg = train_cfg(root, *quick, *overrides, output_dir=run)
    train(cfg)
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    return run


def trained_run(root: Path, *overrides: str, n_pairs: int = 16, panel: int = 32) -> Path:
    """The tiny dataset and one short field_cnn run under root (`<root>/experiments/001...`, its
    config where Hydra's runtime would save it). Trained once per test process and arguments,
    then copied: every module gets a project of its own to plant files in, without retraining.
    Paths the run recorded (config, run.json) are rewritten to the copy's."""
    key = (overrides, n_pairs, panel)
    if key not in _TRAINED:
        scratch = Path(tempfile.mkdtemp(prefix="tiny-run-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        _TRAINED[key] = _train(scratch, overrides, n_pairs, panel)
    source = _TRAINED[key].parents[1]
    shutil.copytree(source, root, dirs_exist_ok=True)
    run = root / "experiments" / RUN_NAME
    for record in (run / ".hydra" / "config.yaml", run / "run.json"):
        record.write_text(record.read_text().replace(str(source), str(root)))
    return run


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
