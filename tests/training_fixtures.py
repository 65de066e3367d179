"""Tiny synthetic datasets in the `balanced` layout, for training tests and the training bench.

Each sample is a JPEG pair [reference | current]. Obstacle pairs get a bright blob in the
current panel; no-obstacle pairs only a small change, so both classes have a spread of
diff_metric values (the sample-weight curve needs a non-zero std per class).
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from obstacles.infra.config import CONF_DIR
from obstacles.io.images import decode_image, encode_jpeg, split_panels
from obstacles.lineage.names import MANIFEST_COLUMNS, NO_OBSTACLE, OBSTACLE
from obstacles.runs.reserve import register_resolvers
from obstacles.weights import diff_metric


def _pair(rng: np.random.Generator, panel: int, obstacle: bool) -> np.ndarray:
    """One [reference | current] image: a smooth scene, and a blob whose size tells the class."""
    ramp = np.linspace(40, 120, panel, dtype=np.float32)
    scene = ramp[None, :, None] + rng.normal(0, 4, (panel, panel, 3)).astype(np.float32)
    reference = np.clip(scene, 0, 255).astype(np.uint8)
    current = np.clip(scene + rng.normal(0, 2, scene.shape), 0, 255).astype(np.uint8)
    radius = int(panel * (rng.uniform(0.15, 0.35) if obstacle else rng.uniform(0.0, 0.1)))
    if radius:
        centre = tuple(int(v) for v in rng.integers(radius, panel - radius, 2))
        colour = tuple(int(v) for v in rng.integers(200, 256, 3))
        cv2.circle(current, centre, radius, colour, thickness=-1)
    return np.concatenate([reference, current], axis=1)


def write_pair_dataset(
    root: str | Path,
    name: str = "tiny",
    *,
    n_pairs: int = 16,
    panel: int = 32,
    eval_every: int = 4,
    with_val: bool = True,
    pixel_threshold: int = 50,
    seed: int = 0,
) -> Path:
    """Write `<root>/datasets/<name>/` (pairs/ + manifest.csv, whose paths are relative to `root`,
    as the lineage's are to the project root); returns the dataset dir.

    Labels alternate no_obstacle/obstacle; of every `eval_every` pairs of each class the last goes
    to eval and (`with_val`) the one before to val, so every split holds both classes.
    diff_metric is computed on the decoded JPEGs, as the real pipeline does.
    """
    rng = np.random.default_rng(seed)
    dataset_dir = Path(root) / "datasets" / name
    rows = []
    for i in range(n_pairs):
        obstacle = bool(i % 2)
        label = OBSTACLE if obstacle else NO_OBSTACLE
        place = (i // 2) % eval_every
        split = "eval" if place == eval_every - 1 else "val" if with_val and place == eval_every - 2 else "train"
        site = "site_a" if i < n_pairs // 2 else "site_b"
        relative = Path("datasets") / name / "pairs" / split / label / f"{site}__pair_{i:04d}.jpg"
        data = encode_jpeg(_pair(rng, panel, obstacle), quality=95)
        (Path(root) / relative).parent.mkdir(parents=True, exist_ok=True)
        (Path(root) / relative).write_bytes(data)
        reference, current = split_panels(decode_image(data), 2)
        rows.append(
            {
                "path": relative.as_posix(),
                "site": site,
                "split": split,
                "label": label,
                "sha256": hashlib.sha256(data).hexdigest(),
                "diff_metric": diff_metric(reference, current, pixel_threshold),
                "pixel_threshold": pixel_threshold,
            }
        )
    dataset_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(dataset_dir / "manifest.csv", index=False)
    return dataset_dir


def train_cfg(
    root: str | Path, *overrides: str, dataset: str = "tiny", output_dir: str | Path | None = None
) -> DictConfig:
    """conf/train.yaml composed as a test needs it: rooted at `root`, small batches,
    main-process loading, outputs in `output_dir` (default `<root>/out`; without Hydra's
    runtime nothing names a run folder)."""
    register_resolvers()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(
            "train",
            overrides=[
                f"paths.root_dir={root}",
                f"paths.output_dir={output_dir or Path(root) / 'out'}",
                f"dataset.name={dataset}",
                "data.batch_size=4",
                "data.num_workers=0",
                *overrides,
            ],
        )


RUN_NAME = "001.tiny.debug-field_cnn-loss"  # the folder the training command names `trained_run(root)`
QUICK_RUN = ("model=field_cnn", "debug=limit", "trainer.max_epochs=1", "data.batch_size=4")
_TRAINED: dict[tuple, Path] = {}  # per test process: one training per set of arguments


def _train(root: Path, overrides: tuple[str, ...], n_pairs: int, panel: int) -> Path:
    from tests.conftest import run_module

    write_pair_dataset(root, n_pairs=n_pairs, panel=panel)
    run_module(root, "obstacles.commands.train", f"paths.root_dir={root}", "dataset.name=tiny", *QUICK_RUN, *overrides)
    (run,) = (root / "experiments").glob("001.*")
    assert overrides or run.name == RUN_NAME, f"the training command now names the run {run.name}: update RUN_NAME"
    return run


def trained_run(root: Path, *overrides: str, n_pairs: int = 16, panel: int = 32) -> Path:
    """The tiny dataset and one short field_cnn run under root (`<root>/experiments/001.*`), trained
    by the command line with W&B offline (`overrides`: e.g. `logger=csv`): the evaluation, curation
    and export tests' run. Trained once per test process and arguments, then copied: every test
    gets a project of its own to plant files in, without retraining. Paths the run recorded (its
    Hydra config, run.json) are rewritten to the copy's."""
    key = (overrides, n_pairs, panel)
    if key not in _TRAINED:
        scratch = Path(tempfile.mkdtemp(prefix="tiny-run-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        _TRAINED[key] = _train(scratch, overrides, n_pairs, panel)
    source, name = _TRAINED[key].parents[1], _TRAINED[key].name
    shutil.copytree(source, root, dirs_exist_ok=True)
    run = root / "experiments" / name
    for record in (*(run / ".hydra").rglob("*.yaml"), run / "run.json"):
        record.write_text(record.read_text().replace(str(source), str(root)))
    return run
