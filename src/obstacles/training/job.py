"""One training, start to end: every object comes from the composed conf/train.yaml through
`hydra.utils.instantiate` (data, model, callbacks, loggers, trainer), is checked, and fits;
the run record is written last (`run_record`). Returns the optimised metric (best value of
`optimized_metric`) for the Optuna sweeper.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig

from obstacles.infra.tracking import keep_wandb_home_inside
from obstacles.io.outputs import break_links
from obstacles.runs.layout import RUN_RECORD
from obstacles.runs.record import log_run_info, set_record_aside, write_run_record
from obstacles.training.checks import check_channels, check_resume

log = logging.getLogger(__name__)


def instantiate_group(group: DictConfig | None) -> list:
    """Objects of a config group holding several `_target_` entries (callbacks, loggers)."""
    return [instantiate(node) for node in (group or {}).values() if node and "_target_" in node]


def build_loggers(cfg: DictConfig) -> list:
    """The `logger` group's Lightning loggers; W&B's only while `wandb.enabled` (conf/wandb/)."""
    if cfg.wandb.enabled:
        keep_wandb_home_inside(cfg.wandb.get("home_dir"))
    loggers = instantiate_group(cfg.get("logger"))
    return [logger for logger in loggers if cfg.wandb.enabled or not isinstance(logger, WandbLogger)]


def optimized_value(trainer: L.Trainer, metric: str | None) -> float | None:
    """The best value a checkpoint callback saw for the metric, else its last value."""
    if not metric:
        return None
    for callback in trainer.checkpoint_callbacks:
        monitors = isinstance(callback, ModelCheckpoint) and callback.monitor == metric
        if monitors and callback.best_model_score is not None:
            return float(callback.best_model_score)
    value = trainer.callback_metrics.get(metric)
    return None if value is None else float(value)


def train(cfg: DictConfig) -> float | None:
    """Build datamodule, model, callbacks, loggers and trainer from cfg, check them, fit."""
    if cfg.get("ckpt_path"):
        check_resume(cfg)  # before building anything, and before the run's record is set aside
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    check_channels(datamodule, model)
    callbacks = instantiate_group(cfg.get("callbacks"))
    loggers = build_loggers(cfg)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    metric = cfg.get("optimized_metric")
    record = Path(cfg.paths.output_dir) / RUN_RECORD
    if trainer.is_global_zero:
        set_record_aside(record)  # a resumed run is unfinished again until it writes a new one
        if cfg.get("ckpt_path"):  # resuming writes into the run folder: never through a DVC cache link
            break_links(cfg.paths.output_dir)
    try:
        info = log_run_info(trainer.loggers, cfg, datamodule, model)
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        value = optimized_value(trainer, metric)
        if trainer.interrupted:  # Lightning returns normally after Ctrl-C: no completion record
            log.warning("training was interrupted: %s has checkpoints but no %s", cfg.paths.output_dir, RUN_RECORD)
        elif trainer.is_global_zero:
            write_run_record(record, trainer, info, metric, value)
    finally:
        if any(isinstance(logger, WandbLogger) for logger in loggers):
            import wandb

            wandb.finish()  # the next job of a sweep must start its own W&B run
    log.info("%s = %s (run folder %s)", metric, value, cfg.paths.output_dir)
    return value
