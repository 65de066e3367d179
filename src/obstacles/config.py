"""Hydra entry points share one config folder and one way to start."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Callable

import hydra
from omegaconf import DictConfig

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# OBSTACLES_ROOT moves the whole project (config and paths) elsewhere, e.g. a test's scratch copy.
PROJECT_ROOT = Path(os.environ.get("OBSTACLES_ROOT", PACKAGE_ROOT)).resolve()
CONF_DIR = str(PROJECT_ROOT / "conf")


# Config keys renamed this release, per tool: old -> new override prefix, a group (`x.`) or one key
# (`x=`); for one release, with a warning.
# `logger.*` became the shared conf/wandb/ group; evaluate's `dataset.manifest` was a file name where
# every other config's is a path (conf/dataset/).
WANDB_RENAMED = {"logger.": "wandb."}
RENAMED_KEYS: dict[str, dict[str, str]] = {
    "evaluate": {**WANDB_RENAMED, "dataset.manifest=": "dataset.manifest_file="},
    "thresholds": WANDB_RENAMED,
    "compare": WANDB_RENAMED,
}


def renamed_overrides(arguments: list[str], renamed: Mapping[str, str]) -> list[str]:
    """Command-line overrides with renamed keys written the new way, each change said on stderr."""
    updated = []
    for argument in arguments:
        key = argument.lstrip("+~")
        for old, new in renamed.items():
            if key.startswith(old):
                changed = argument.replace(old, new, 1)
                print(
                    f"warning: {argument!r} is deprecated and goes in the next release: use {changed!r}",
                    file=sys.stderr,
                )
                argument = changed
                break
        updated.append(argument)
    return updated


def entry_point(config_name: str, run: Callable[[DictConfig], object]) -> Callable[[], None]:
    """A command's main(): composes `conf/<config_name>.yaml` from the command line and calls run(cfg)."""

    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name=config_name)
    def hydra_main(cfg: DictConfig) -> None:
        run(cfg)

    def main() -> None:
        sys.argv[1:] = renamed_overrides(sys.argv[1:], RENAMED_KEYS.get(config_name, {}))
        hydra_main()

    return main


def compose(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The same config an entry point would get, for notebooks, tests and benchmarks."""
    with hydra.initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return hydra.compose(
            config_name=config_name, overrides=renamed_overrides(list(overrides), RENAMED_KEYS.get(config_name, {}))
        )
