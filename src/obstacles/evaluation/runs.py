"""Which run and checkpoint to evaluate, and what the run recorded about itself.

Run folders are `experiments/NNN.<dataset>.<info>/` (obstacles.training.run_dir); a checkpoint
outside one is allowed, its settings then come from the command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.checkpoints import find_checkpoint
from obstacles.io.provenance import folder_wandb_run_id
from obstacles.splits import EVAL
from obstacles.training.run_dir import checkpoint_run_dir


@dataclass(frozen=True)
class RunTarget:
    """A checkpoint, the folder of its run, and that run's saved config and record (if any)."""

    checkpoint: Path
    run_dir: Path
    config: DictConfig | None
    config_path: Path
    record: dict

    @property
    def wandb_run_id(self) -> str | None:
        """The training run's W&B id: from run.json, else the run already in `<run>/wandb/`."""
        return self.record.get("wandb_run_id") or folder_wandb_run_id(self.run_dir)


def resolve_checkpoint(ckpt_path: str | None, run_dir: str | None, experiments_dir: str) -> Path:
    """ckpt_path as given, else run_dir's preferred checkpoint, else the latest run's."""
    if run_dir and not ckpt_path and not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run_dir={run_dir}: no such run folder")
    return find_checkpoint(experiments_dir, ckpt_path or run_dir)


def read_record(path: Path) -> dict:
    """run.json, or {} when the run has none (e.g. training stopped before writing it)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def locate(cfg: DictConfig) -> RunTarget:
    """The checkpoint to evaluate and its run (run_dir wins over the checkpoint's own folder)."""
    checkpoint = resolve_checkpoint(cfg.ckpt_path, cfg.run_dir, cfg.paths.experiments_dir)
    run_dir = Path(cfg.run_dir) if cfg.run_dir else checkpoint_run_dir(checkpoint) or checkpoint.parent
    config_path = run_dir / cfg.run.config
    config = OmegaConf.load(config_path) if config_path.is_file() else None
    return RunTarget(checkpoint, run_dir, config, config_path, read_record(run_dir / cfg.run.record))


def split_caveat(target: RunTarget, split: str) -> str | None:
    """What a reader must know about numbers on this split: None for a held-out eval split."""
    selected_on = target.record.get("validation_split")
    if selected_on == split:
        return (
            f"warning: {target.run_dir} picked its checkpoint and stopped training on the {split!r} split "
            f"(its dataset has no val split: split.val_fraction 0), so these metrics are optimistic"
        )
    if split != EVAL:
        return f"note: evaluating on the {split!r} split, not the held-out {EVAL!r} split the team acts on"
    return None
