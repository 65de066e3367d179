"""Hydra entry points share one config folder and one way to start."""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from typing import Callable

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from obstacles.infra.tracking import WandbSettings

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

# Per tool, the module whose import stores its schema in Hydra's ConfigStore as `<tool>_schema`
# (the first entry of conf/<tool>.yaml's defaults list). Imported by name when composing, so a
# stage's code deps hold only its own tool's settings.
SCHEMA_MODULES = {
    "thresholds": "obstacles.thresholds.settings",
    "evaluate": "obstacles.evaluation.settings",
    "export": "obstacles.deployment.settings",
    "audit": "obstacles.curation.settings",
    "data_map": "obstacles.curation.settings",
    "label_issues": "obstacles.curation.settings",
    "similar": "obstacles.curation.settings",
    "review": "obstacles.curation.settings",
    "compare": "obstacles.comparison.settings",
    "champion": "obstacles.champion.settings",
}


def override_value(value: str) -> str:
    """A value as Hydra's override grammar reads it back unchanged: as it is when plain, else quoted."""
    return value if PLAIN_VALUE.fullmatch(value) else "'" + value.replace("'", "\\'") + "'"


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
        updated.append(f"{key}={override_value(argument)}")
    if bare and (key is None or len(bare) > 1):
        expected = f"[{key}=]<path> " if key else ""
        raise UsageError(
            f"usage: obstacles-{config_name.replace('_', '-')} {expected}[key=value ...] "
            f"(conf/{config_name}.yaml); not understood: {' '.join(bare if key is None else bare[1:])}"
        )
    return updated


# Every config with a `wandb` group (conf/wandb/default.yaml: `- base_wandb`) fills this schema,
# stored on import so that any code composing conf/ through this module finds it.
ConfigStore.instance().store(group="wandb", name="base_wandb", node=WandbSettings)


def register_schemas(config_name: str) -> None:
    """Store the schema conf/<config_name>.yaml fills in Hydra's ConfigStore (its module stores it)."""
    if config_name in SCHEMA_MODULES:
        importlib.import_module(SCHEMA_MODULES[config_name])


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
        register_schemas(config_name)
        hydra_main()

    return main


def compose(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The same config an entry point would get, for notebooks, tests and benchmarks."""
    register_schemas(config_name)
    with hydra.initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return hydra.compose(config_name=config_name, overrides=list(overrides))


def tool_settings(config_name: str, overrides: list[str] | tuple[str, ...] = ()) -> object:
    """The tool's settings object (its schema's dataclass, filled), as its entry point reads them."""
    return OmegaConf.to_object(compose(config_name, overrides))
