"""Hydra entry points share one config folder and one way to start."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Callable

import hydra
from omegaconf import DictConfig

PACKAGE_ROOT = Path(__file__).resolve().parents[3]
# OBSTACLES_ROOT moves the whole project (config and paths) elsewhere, e.g. a test's scratch copy.
PROJECT_ROOT = Path(os.environ.get("OBSTACLES_ROOT", PACKAGE_ROOT)).resolve()
CONF_DIR = str(PROJECT_ROOT / "conf")


# Per tool, the key its main argument (a path) goes to when typed bare: `obstacles-compare
# experiments/001.x.sweep`, the first thing a user types, means `runs=experiments/001.x.sweep`
# (Hydra alone answers "extraneous input '/' expecting ...").
PATH_ARGUMENT = {
    "compare": "runs",
    "evaluate": "ckpt_path",
    "export": "ckpt_path",
    "audit": "ckpt_path",
    "similar": "image",
    "thresholds": "predictions",
    "champion": "challenger",
}
# Hydra's own flags that take the next argument as their value (it is not a path to rewrite)
HYDRA_VALUE_FLAGS = frozenset(
    {
        "-c",
        "--cfg",
        "-i",
        "--info",
        "-p",
        "--package",
        "-cp",
        "--config-path",
        "-cn",
        "--config-name",
        "-cd",
        "--config-dir",
    }
)
PLAIN_VALUE = re.compile(r"[\w./@:+-]+")  # passes Hydra's override grammar unquoted


class UsageError(SystemExit):
    """A command line no tool reads: one line of usage, exit status 2."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message


def bare_path_overrides(arguments: list[str], config_name: str) -> list[str]:
    """The arguments with a bare path written as the tool's `PATH_ARGUMENT` override; any other
    argument without `=` (or a second bare path) is a UsageError saying how to write it."""
    key = PATH_ARGUMENT.get(config_name)
    updated, bare, after_flag = [], [], False
    for argument in arguments:
        if after_flag or argument.startswith(("-", "~")) or "=" in argument:  # ~key deletes a key
            after_flag = argument in HYDRA_VALUE_FLAGS
            updated.append(argument)
            continue
        bare.append(argument)
        value = argument if PLAIN_VALUE.fullmatch(argument) else "'" + argument.replace("'", "\\'") + "'"
        updated.append(f"{key}={value}")
    if bare and (key is None or len(bare) > 1):
        expected = f"[{key}=]<path> " if key else ""
        raise UsageError(
            f"usage: obstacles-{config_name.replace('_', '-')} {expected}[key=value ...] "
            f"(conf/{config_name}.yaml); not understood: {' '.join(bare if key is None else bare[1:])}"
        )
    return updated


def entry_point(config_name: str, run: Callable[[DictConfig], object]) -> Callable[[], None]:
    """A command's main(): composes `conf/<config_name>.yaml` from the command line and calls run(cfg)."""

    @hydra.main(version_base="1.3", config_path=CONF_DIR, config_name=config_name)
    def hydra_main(cfg: DictConfig) -> None:
        run(cfg)

    def main() -> None:
        try:
            arguments = bare_path_overrides(sys.argv[1:], config_name)
        except UsageError as usage:
            print(usage.message, file=sys.stderr)
            raise
        sys.argv[1:] = arguments
        hydra_main()

    return main


def compose(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The same config an entry point would get, for notebooks, tests and benchmarks."""
    with hydra.initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return hydra.compose(config_name=config_name, overrides=list(overrides))
