"""The run record: what a training run says about itself (resolved config, dataset identity,
parameter counts, sent to its loggers) and `run.json`, its completion record, written last;
read back by every tool that picks or cites a run (`obstacles.runs.lookup`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from omegaconf import DictConfig, OmegaConf

from obstacles.io.outputs import write_text_atomic
from obstacles.io.provenance import file_sha256
from obstacles.runs.key import running_config_key

if TYPE_CHECKING:  # reading a record (every tool that picks a run) needs neither Lightning nor torch
    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import Logger
    from torch import nn

    from obstacles.data import ObstacleDataModule

PREVIOUS_RECORD_SUFFIX = ".previous"  # run.json of the training a resumed run continues


def _outs(yaml_file: Path) -> list[tuple[Path, str]]:
    """(absolute path, md5) of every output a dvc.lock or .dvc file records."""
    if not yaml_file.is_file():
        return []
    document = yaml.safe_load(yaml_file.read_text()) or {}
    outs = [out for stage in (document.get("stages") or {}).values() for out in stage.get("outs", [])]
    outs += document.get("outs", [])
    return [((yaml_file.parent / out["path"]).resolve(), out.get("md5")) for out in outs if "path" in out]


def dvc_md5(root_dir: str | Path, dataset_dir: str | Path) -> str | None:
    """The DVC-tracked version (directory md5) of the dataset, from dvc.lock or its .dvc file."""
    dataset_dir = Path(dataset_dir).resolve()
    candidates = [Path(root_dir) / "dvc.lock", dataset_dir.with_name(dataset_dir.name + ".dvc")]
    for path, md5 in (entry for candidate in candidates for entry in _outs(candidate)):
        if path == dataset_dir:
            return md5
    return None


def dataset_identity(datamodule: ObstacleDataModule, root_dir: str | Path) -> dict:
    return {
        "name": datamodule.dataset_dir.name,
        "manifest_sha256": file_sha256(datamodule.manifest),
        "dvc_md5": dvc_md5(root_dir, datamodule.dataset_dir),
        "n_train": len(datamodule.train_set),
        "n_val": len(datamodule.val_set),
        "validation_split": datamodule.validation_split,
    }


def parameter_counts(model: nn.Module) -> dict[str, int]:
    return {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def log_run_info(loggers: list[Logger], cfg: DictConfig, datamodule: ObstacleDataModule, model: nn.Module) -> dict:
    """Send the resolved config, dataset identity and parameter counts to every logger, and the
    run's configuration key and seed (`obstacles.runs.key`), so grouping W&B runs by
    `config_key` gives `python -m obstacles.commands.compare`'s configurations."""
    info = {
        "cfg": OmegaConf.to_container(cfg, resolve=True),
        "config_key": running_config_key(),  # None outside Hydra's runtime (a composed config)
        "seed": cfg.get("seed"),
        "dataset": dataset_identity(datamodule, cfg.paths.root_dir),
        "model/params": parameter_counts(model),
    }
    for logger in loggers:
        logger.log_hyperparams(info)
    return info


def read_run_record(path: Path) -> dict:
    """run.json, or {} when the run has none (e.g. training stopped before writing it)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def set_record_aside(path: Path) -> None:
    """Keep an earlier completion record as `run.json.previous`: while this training runs, the
    folder must not look finished (tools pick the latest *finished* run)."""
    if path.is_file():
        path.replace(path.with_name(path.name + PREVIOUS_RECORD_SUFFIX))


def write_run_record(path: str | Path, trainer: Trainer, info: dict, metric: str | None, value: float | None) -> None:
    """`run.json`, the completion record, written last and atomically: what later tools (evaluation,
    threshold search) need to find and cite a run, and the sign that its training finished."""
    from lightning.pytorch.loggers import WandbLogger

    checkpoint = trainer.checkpoint_callback
    wandb = next((logger for logger in trainer.loggers if isinstance(logger, WandbLogger)), None)
    record = {
        "dataset": info["dataset"]["name"],
        "manifest_sha256": info["dataset"]["manifest_sha256"],
        "dvc_md5": info["dataset"]["dvc_md5"],
        "validation_split": info["dataset"]["validation_split"],  # the split best.ckpt was picked on
        "best_checkpoint": checkpoint.best_model_path if checkpoint else None,
        "last_checkpoint": checkpoint.last_model_path if checkpoint else None,
        "optimized_metric": metric,
        "best_value": value,
        "epochs_completed": trainer.current_epoch,
        "wandb_run_id": wandb.version if wandb else None,
        "wandb_group": wandb.experiment.group if wandb else None,
    }
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")
