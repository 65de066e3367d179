"""Which run and checkpoint to evaluate, and what the run recorded about itself.

Run folders are `experiments/NNN.<dataset>.<info>/` (obstacles.training.run_dir); a checkpoint
outside one is allowed, its settings then come from the command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.training.run_dir import RUN_NUMBER, checkpoint_run_dir, previous_wandb_id


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
        return self.record.get("wandb_run_id") or previous_wandb_id(str(self.run_dir))


def preferred_checkpoint(run_dir: Path, layout: DictConfig) -> Path | None:
    """The first pattern of `layout.prefer` with a match (its newest file), or None."""
    folder = run_dir / layout.checkpoints_dir
    for pattern in layout.prefer:
        matches = sorted(folder.glob(pattern), key=lambda p: (p.stat().st_mtime, p.name))
        if matches:
            return matches[-1]
    return None


def numbered_runs(experiments_dir: Path) -> list[Path]:
    """Run folders `NNN.*`, highest number first."""
    if not experiments_dir.is_dir():
        return []
    runs = [(int(m.group(1)), p) for p in experiments_dir.iterdir() if p.is_dir() and (m := RUN_NUMBER.match(p.name))]
    return [path for _, path in sorted(runs, reverse=True)]


def latest_checkpoint(experiments_dir: Path, layout: DictConfig) -> Path:
    """The preferred checkpoint of the highest-numbered run that has one (sweep folders have none)."""
    for run_dir in numbered_runs(experiments_dir):
        checkpoint = preferred_checkpoint(run_dir, layout)
        if checkpoint is not None:
            return checkpoint
    raise FileNotFoundError(
        f"no run with a checkpoint in {experiments_dir} (looked for NNN.*/{layout.checkpoints_dir}/"
        f"{{{','.join(layout.prefer)}}}): train one with `python -m obstacles.train`, or pass ckpt_path= or run_dir="
    )


def resolve_checkpoint(ckpt_path: str | None, run_dir: str | None, experiments_dir: str, layout: DictConfig) -> Path:
    """ckpt_path as given, else run_dir's preferred checkpoint, else the latest run's."""
    if ckpt_path:
        checkpoint = Path(ckpt_path)
        if not checkpoint.is_file():
            raise FileNotFoundError(f"ckpt_path={ckpt_path}: no such checkpoint file")
        return checkpoint
    if run_dir:
        folder = Path(run_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"run_dir={run_dir}: no such run folder")
        checkpoint = preferred_checkpoint(folder, layout)
        if checkpoint is None:
            raise FileNotFoundError(
                f"run_dir={run_dir} has no checkpoint matching {list(layout.prefer)} in {layout.checkpoints_dir}/"
            )
        return checkpoint
    return latest_checkpoint(Path(experiments_dir), layout)


def read_record(path: Path) -> dict:
    """run.json, or {} when the run has none (e.g. training stopped before writing it)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def locate(cfg: DictConfig) -> RunTarget:
    """The checkpoint to evaluate and its run (run_dir wins over the checkpoint's own folder)."""
    checkpoint = resolve_checkpoint(cfg.ckpt_path, cfg.run_dir, cfg.paths.experiments_dir, cfg.run)
    run_dir = Path(cfg.run_dir) if cfg.run_dir else checkpoint_run_dir(checkpoint) or checkpoint.parent
    config_path = run_dir / cfg.run.config
    config = OmegaConf.load(config_path) if config_path.is_file() else None
    return RunTarget(checkpoint, run_dir, config, config_path, read_record(run_dir / cfg.run.record))
