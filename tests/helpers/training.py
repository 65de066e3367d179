"""Tiny synthetic datasets in the `balanced` layout, training configs, and one short trained run
shared by the tests of a process (the `trained_run` fixture); the training bench uses them too.

Each sample is a JPEG pair [reference | current]. Obstacle pairs get a bright blob in the
current panel; no-obstacle pairs only a small change, so both classes have a spread of
diff_metric values (the sample-weight curve needs a non-zero std per class).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from omegaconf import DictConfig

from obstacles.infra.config import compose
from obstacles.io.images import decode_image, encode_jpeg, split_panels
from obstacles.lineage.names import MANIFEST_COLUMNS, NO_OBSTACLE, OBSTACLE
from obstacles.runs.reserve import register_resolvers
from obstacles.weights import diff_metric
from tests.helpers.commands import run_in_process


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
    register_resolvers()  # the run's names (W&B name and group) read them
    return compose(
        "train",
        [
            f"paths.root_dir={root}",
            f"paths.output_dir={output_dir or Path(root) / 'out'}",
            f"dataset.name={dataset}",
            "data.batch_size=4",
            "data.num_workers=0",
            *overrides,
        ],
    )


RUN_NAME = "001.tiny.debug-field_cnn-loss"  # the folder the training command names the tiny run
QUICK_RUN = ("model=field_cnn", "debug=limit", "trainer.max_epochs=1", "data.batch_size=4")


def train_tiny_project(root: Path, overrides: tuple[str, ...] = (), n_pairs: int = 16, panel: int = 32) -> Path:
    """The tiny dataset under root and one short field_cnn run (`<root>/experiments/001.*`), trained
    by the training command's main in this process with W&B offline (`overrides`: e.g.
    `logger=csv`); returns the run folder."""
    write_pair_dataset(root, n_pairs=n_pairs, panel=panel)
    run_in_process(
        root, "obstacles.commands.train", f"paths.root_dir={root}", "dataset.name=tiny", *QUICK_RUN, *overrides
    )
    (run,) = (root / "experiments").glob("001.*")
    assert overrides or run.name == RUN_NAME, f"the training command names the run {run.name}: update RUN_NAME"
    return run


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Callable[..., Path]:
    """`trained_run(root, *overrides, n_pairs=16, panel=32)`: a copy under root of a tiny project and
    its trained run (`train_tiny_project`), returning the copy's run folder: the evaluation,
    curation and export tests' run. Each set of arguments trains once per test process; every
    caller gets a project of its own to plant files in. The paths a run records (its Hydra config,
    run.json) name the project it was trained in, which stays as trained for the whole session, so
    a copy reads the same dataset through them."""
    trained: dict[tuple, Path] = {}

    def copy_of(root: Path, *overrides: str, n_pairs: int = 16, panel: int = 32) -> Path:
        key = (overrides, n_pairs, panel)
        if key not in trained:
            trained[key] = train_tiny_project(tmp_path_factory.mktemp("trained"), overrides, n_pairs, panel)
        run = trained[key]
        shutil.copytree(run.parents[1], root, dirs_exist_ok=True)
        return Path(root) / "experiments" / run.name

    return copy_of
