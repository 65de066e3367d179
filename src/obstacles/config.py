"""Hydra entry points share one config folder and one way to start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import hydra
from omegaconf import DictConfig

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# OBSTACLES_ROOT moves the whole project (config and paths) elsewhere, e.g. a test's scratch copy.
PROJECT_ROOT = Path(os.environ.get("OBSTACLES_ROOT", PACKAGE_ROOT)).resolve()
CONF_DIR = str(PROJECT_ROOT / "conf")


def entry_point(config_name: str, run: Callable[[DictConfig], object]) -> Callable[[], None]:
    """A `python -m` main() that composes `conf/<config_name>.yaml` and calls run(cfg)."""

    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name=config_name)
    def main(cfg: DictConfig) -> None:
        run(cfg)

    return main


def compose(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The same config an entry point would get, for notebooks, tests and benchmarks."""
    with hydra.initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return hydra.compose(config_name=config_name, overrides=list(overrides))
