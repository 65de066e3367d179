"""Small inputs for the curation tools' tests: a tiny trained run and a simulated recording."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from obstacles.config import CONF_DIR
from training_fixtures import train_cfg, write_pair_dataset

RUN_NAME = "001.tiny.debug-field_cnn"
SITE = "plant_202209_01"  # a registered site (conf/site/), so site=<id> composes


def trained_run(root: Path, *overrides: str, n_pairs: int = 16, panel: int = 32) -> Path:
    """Write the tiny dataset under root, train one short field_cnn run into
    `<root>/experiments/001...`, and save its config where Hydra's runtime would."""
    from obstacles.training.job import train

    write_pair_dataset(root, n_pairs=n_pairs, panel=panel)
    run = root / "experiments" / RUN_NAME
    quick = ("model=field_cnn", "debug=limit", "logger=none", "trainer.max_epochs=1")
    cfg = train_cfg(root, *quick, *overrides, output_dir=run)
    train(cfg)
    (run / ".hydra").mkdir()
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
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
