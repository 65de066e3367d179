"""W&B for every tool: one way to attach to a run (`wandb_run`: offline unless WANDB_MODE says
otherwise, resuming the given run id, e.g. the training run's, so a run's training, evaluation
and thresholds meet) and one way to log a tool's outputs into it (`log_outputs`, under the
tool's prefix). The settings are `WandbSettings`, the schema the `wandb` config group
(conf/wandb/default.yaml) fills for every tool."""

from __future__ import annotations

import os
import secrets
import string
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping

from omegaconf import MISSING

if TYPE_CHECKING:  # pandas is imported by the functions that log tables: the settings stay light for Hydra
    import pandas as pd

RUN_ID_ALPHABET = string.ascii_lowercase + string.digits  # the characters W&B's own run ids use
RUN_ID_LENGTH = 8


@dataclass
class WandbSettings:
    """W&B settings of every tool (conf/wandb/default.yaml fills them, each tool's config sets its own
    values under `wandb`). The last four are read by the tools that name them."""

    enabled: bool = MISSING
    project: str = MISSING
    entity: str | None = MISSING
    mode: str = MISSING  # WANDB_MODE in the environment wins
    dir: str | None = MISSING  # W&B writes <dir>/wandb/; None: the tool's default
    home_dir: str | None = MISSING  # W&B's cache, config and staging files (`keep_wandb_home_inside`)
    run_id: str | None = MISSING  # attach to this run (resume="allow"); None: the tool's default
    name: str | None = MISSING
    group: str | None = MISSING
    job_type: str = MISSING
    tags: list[str] = field(default_factory=list)
    prefix: str | None = MISSING  # namespace of the logged keys; None: the names as given
    run_id_key: str | None = None  # thresholds: the key naming the run in the files beside the predictions
    attach_to_folder_run: bool = False  # thresholds: else the run in the predictions' folder's wandb/
    max_gallery_images: int = 32  # evaluate: per threshold and kind
    max_images: int = 100  # audit, label_issues: table rows that carry their image


# where W&B keeps files outside a run's own folder, by environment variable (each a folder of home_dir)
WANDB_HOME_VARIABLES = {
    "WANDB_CACHE_DIR": "cache",
    "WANDB_CONFIG_DIR": "config",
    "WANDB_DATA_DIR": "data",
    "WANDB_ARTIFACT_DIR": "artifacts",
}


def keep_wandb_home_inside(home_dir: str | Path | None) -> None:
    """Point W&B's cache, config, data and artifact folders under `home_dir` (conf/wandb:
    `home_dir`, inside the project) unless the environment already says where: W&B otherwise
    writes into the user's home even offline, out of sight of the project and its cleanup."""
    if not home_dir:
        return
    for variable, folder in WANDB_HOME_VARIABLES.items():
        os.environ.setdefault(variable, str(Path(home_dir).resolve() / folder))


def new_run_id() -> str:
    """A fresh W&B run id, made here: wandb has no public generator (0.31 dropped wandb.util.generate_id),
    and the id must be known before the run starts so metrics.provenance.json can name it."""
    return "".join(secrets.choice(RUN_ID_ALPHABET) for _ in range(RUN_ID_LENGTH))


@contextmanager
def wandb_run(
    settings: WandbSettings, wandb_dir: Path, *, run_id: str | None, name: str | None, config: dict
) -> Iterator:
    """(run, record) for the block; record says where the run is, for the output's provenance."""
    import wandb

    keep_wandb_home_inside(settings.home_dir)
    mode = os.environ.get("WANDB_MODE") or settings.mode
    wandb_dir.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=settings.project,
        entity=settings.entity,
        dir=str(wandb_dir),
        mode=mode,
        id=run_id,
        resume="allow" if run_id else None,
        allow_val_change=True,  # re-running on an attached run may change the logged config
        name=name,
        group=settings.group,
        job_type=settings.job_type,
        tags=list(settings.tags),
        config=config,
    )
    try:
        yield run, {"run_id": run.id, "project": settings.project, "mode": mode, "dir": str(wandb_dir)}
    finally:
        run.finish()


def table(frame: pd.DataFrame):
    """A W&B table of the frame; missing values become empty cells (W&B rejects NaN in objects)."""
    import wandb

    return wandb.Table(dataframe=frame.astype(object).where(frame.notna(), None))


def log_outputs(
    run,
    prefix: str | None,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    images: Mapping[str, str | Path] | None = None,
    logged: Mapping[str, object] | None = None,
    summary: Mapping[str, object] | None = None,
) -> None:
    """One tool's outputs into `run`, every key under `<prefix>/` (none: the names as given):
    tables, image files, other W&B objects (charts, image tables) and summary numbers."""
    import wandb

    def key(name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    values = {key(name): table(frame) for name, frame in (tables or {}).items()}
    values.update({key(name): wandb.Image(str(path)) for name, path in (images or {}).items()})
    values.update({key(name): value for name, value in (logged or {}).items()})
    run.log(values)
    run.summary.update({key(name): value for name, value in (summary or {}).items()})
