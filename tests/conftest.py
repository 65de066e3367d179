"""Shared test helpers: composing the real configs, and writing small recordings by hand."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict

from html_fixtures import browser  # noqa: F401  (headless Chromium, for the page tests of every module)
from obstacles.infra.config import CONF_DIR, compose
from obstacles.io.images import encode_jpeg
from warm_python import run_python_module

REPO = Path(CONF_DIR).parent
CLI_TIMEOUT_S = 300


# The files that run for a minute or more (a DVC project's pipelines, real trainings and sweeps), in
# that order: the test processes take them first, so the short files fill in around them and the
# processes finish together (Makefile: `--dist loadfile --no-loadscope-reorder`).
LONG_FILES = ("test_dvc_pipeline.py", "test_train_runs.py", "test_evaluate.py", "test_compare.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


def wandb_env(root: Path) -> dict[str, str]:
    """The environment a test's command runs in: W&B offline and quiet, its files inside root."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.update({key: str(root / "wandb-home") for key in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")})
    return env


@contextmanager
def offline_wandb(root: Path) -> Iterator[None]:
    """This process's environment as `wandb_env` makes a command's, for in-process tool runs."""
    with pytest.MonkeyPatch.context() as env:
        for key, value in wandb_env(root).items():
            env.setenv(key, value)
        yield


def run_module(root: Path, module: str, *args: str, succeed: bool | None = True) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` in a fresh process, from root, W&B offline (`wandb_env`): the one
    way tests run a command (forked from a process that imported torch and Lightning already:
    `warm_python`). `succeed`: True, it must exit 0; False, it must fail; None, either."""
    result = run_python_module(module, list(args), root, wandb_env(root), CLI_TIMEOUT_S)
    if succeed is not None:
        assert (result.returncode == 0) == succeed, f"{' '.join(result.args[2:])}: exit {result.returncode}\n" + (
            result.stdout[-3000:] + result.stderr[-3000:]
        )
    return result


def pipeline_cfg(root: Path, site: str | None = None, pixel_threshold: int = 50, overrides=(), config="pipeline"):
    """conf/pipeline.yaml (or a config built on it) as the stages see it, rooted at a scratch folder."""
    cfg = compose(config, [f"paths.root_dir={root}", "workers=1", *overrides])
    with open_dict(cfg):
        if site:
            cfg.site = OmegaConf.create({"name": site, "pixel_threshold": pixel_threshold})
        cfg.sites = [site] if site else []
    return cfg


def triplet(rng: np.random.Generator, panel: int = 32, obstacle: bool = False, panels: int = 3) -> bytes:
    reference = rng.integers(40, 200, (panel, panel, 3), dtype=np.uint8)
    current = reference.copy()
    if obstacle:
        current[panel // 4 : panel // 2, panel // 4 : panel // 2] = 255
    mask = np.zeros_like(reference)
    return encode_jpeg(np.hstack([reference, current, mask][:panels]), 95)


def write_frame(recording: Path, stem: str, score, image: bytes | None = None, payload=None) -> None:
    (recording / "images").mkdir(parents=True, exist_ok=True)
    (recording / "json").mkdir(parents=True, exist_ok=True)
    if image is not None:
        (recording / "images" / f"{stem}.jpg").write_bytes(image)
    if payload is not None or score is not None:
        text = payload if payload is not None else json.dumps({"dense": [score]})
        (recording / "json" / f"{stem}.json").write_text(text)


def stem(i: int, minute: int | None = None) -> str:
    minute = i * 5 if minute is None else minute
    return f"1116_obstacles_classification_2022-09-07T{6 + minute // 60:02d}-{minute % 60:02d}-{i % 60:02d}"


def metric_leaves(tree: dict, prefix: str = ""):
    """(dotted key, value) of every leaf of nested dicts, as DVC flattens a metrics file."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from metric_leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below folder."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def rng():
    return np.random.default_rng(7)
