"""One evaluation, start to end: find the checkpoint, check it, score, write, log.

Order matters: every check that can fail (checkpoint, config, dataset, output folder) runs
before scoring; the outputs are built in a hidden folder and renamed into place complete;
W&B logging comes last, from the finished folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from obstacles.checkpoints import RunTarget, build_model, locate, read_checkpoint
from obstacles.evaluation.gallery import Gallery, write_gallery
from obstacles.evaluation.report import (
    METRICS_FILE,
    PREDICTIONS_FILE,
    Tables,
    check_thresholds,
    compute_tables,
    metrics_payload,
    write_report,
)
from obstacles.evaluation.scoring import pick_device, score_rows, split_rows
from obstacles.evaluation.settings import DataSettings, data_settings, split_caveat
from obstacles.io.outputs import atomic_dir
from obstacles.io.provenance import file_sha256, git_state
from obstacles.tracking import new_run_id

# Outlive a re-evaluation: offline W&B runs (e.g. the threshold search's), and the .gitignore
# DVC keeps beside the stage's cached outputs (it is committed, so a fresh clone has it).
KEPT_ENTRIES = ("wandb", ".gitignore")


def output_dir(cfg: DictConfig, target: RunTarget, protected: list[Path]) -> Path:
    """Where to write; refuses a folder whose replacement would destroy something else."""
    out_dir = Path(cfg.out_dir) if cfg.out_dir else target.run_dir / cfg.run.eval_subdir
    resolved = out_dir.resolve()
    for path in protected:
        if resolved == path.resolve() or resolved in path.resolve().parents:
            raise ValueError(f"out_dir={out_dir} would replace {path}: choose a folder of its own")
    ours = (resolved / METRICS_FILE).is_file() or (resolved / PREDICTIONS_FILE).is_file()
    if resolved.is_dir() and not ours and any(p.name not in KEPT_ENTRIES for p in resolved.iterdir()):
        raise ValueError(f"out_dir={out_dir} holds files that are not an evaluation's; it would be replaced as a whole")
    return out_dir


def provenance(cfg: DictConfig, target: RunTarget, dataset: str, manifest: Path, run_id: str | None) -> dict:
    """What was evaluated on what (PROVENANCE_FILE, beside metrics.json): the keys `obstacles.thresholds`
    reads (checkpoint, manifest_sha256, wandb_run_id), and more."""
    manifest_sha = file_sha256(manifest)
    trained_on = target.record.get("manifest_sha256")
    if trained_on and trained_on != manifest_sha:
        print(f"warning: {manifest} differs from the manifest the run trained on (sha256 {trained_on[:12]}...)")
    return {
        "checkpoint": str(target.checkpoint),
        "checkpoint_sha256": file_sha256(target.checkpoint),
        "run_dir": str(target.run_dir),
        "dataset": dataset,
        "split": cfg.eval.split,
        "manifest_sha256": manifest_sha,
        "train_manifest_sha256": trained_on,
        "wandb_run_id": run_id,
        "wandb_project": cfg.wandb.project if run_id else None,
        **git_state(),
    }


def keep_entries(old: Path, new: Path) -> None:
    for name in KEPT_ENTRIES:
        if (old / name).exists() and not (new / name).exists():
            shutil.move(str(old / name), str(new / name))


def wandb_run_id(cfg: DictConfig, target: RunTarget) -> str | None:
    """The configured id, else the training run's, else a new one when logging (the threshold
    search attaches to whatever metrics.provenance.json names, even if this evaluation logs nothing)."""
    run_id = cfg.wandb.run_id or target.wandb_run_id
    if run_id is None and cfg.wandb.enabled:
        run_id = new_run_id()
    return run_id


@dataclass(frozen=True)
class Plan:
    """Everything checked before scoring: what to score, how to read it, where to write."""

    target: RunTarget
    checkpoint: dict
    settings: DataSettings
    thresholds: list[float]
    dataset_dir: Path
    manifest: Path
    rows: pd.DataFrame
    out_dir: Path
    run_id: str | None

    @property
    def title(self) -> str:
        return f"{self.target.run_dir.name}: {self.settings.dataset} {self.rows['split'].iat[0]}"


def plan(cfg: DictConfig) -> Plan:
    """Run every check that can fail (checkpoint, config, dataset, output folder), in seconds."""
    target = locate(
        cfg.ckpt_path, cfg.run_dir, cfg.paths.experiments_dir, config_file=cfg.run.config, record_file=cfg.run.record
    )
    checkpoint = read_checkpoint(target.checkpoint)
    settings = data_settings(cfg, target, checkpoint["hyper_parameters"])
    thresholds = check_thresholds(cfg.eval.thresholds)
    dataset_dir = Path(cfg.paths.datasets_dir) / settings.dataset
    manifest = dataset_dir / cfg.dataset.manifest
    rows = split_rows(manifest, cfg.eval.split, Path(cfg.paths.root_dir))
    out_dir = output_dir(cfg, target, [target.run_dir, target.checkpoint, dataset_dir, Path.cwd()])
    run_id = wandb_run_id(cfg, target)
    return Plan(target, checkpoint, settings, thresholds, dataset_dir, manifest, rows, out_dir, run_id)


def score(cfg: DictConfig, job: Plan) -> pd.DataFrame:
    print(f"evaluating {job.target.checkpoint} on {len(job.rows)} {cfg.eval.split} pairs of {job.settings.dataset}")
    caveat = split_caveat(job.target, cfg.eval.split)
    if caveat:
        print(caveat)
    return score_rows(
        build_model(job.checkpoint),
        job.rows,
        panels=job.settings.panels,
        with_diff_mask=job.settings.with_diff_mask,
        panel_size=job.settings.panel_size,
        batch_size=cfg.eval.batch_size,
        num_workers=cfg.eval.num_workers,
        device=pick_device(cfg.eval.device),
        progress=cfg.eval.progress,
    )


def write_outputs(
    cfg: DictConfig, job: Plan, predictions: pd.DataFrame, tables: Tables, payload: dict, origin: dict
) -> list[Gallery]:
    """The whole evaluation folder, renamed into place only once complete."""
    with atomic_dir(job.out_dir) as folder:
        write_report(folder, predictions, tables, payload, origin, job.title)
        galleries = [
            write_gallery(
                folder,
                Path(cfg.paths.root_dir),
                predictions,
                threshold,
                title=job.title,
                decimals=cfg.gallery.score_decimals,
                thumb_width=cfg.gallery.thumb_width,
            )
            for threshold in job.thresholds
        ]
        keep_entries(job.out_dir, folder)
    return galleries


def evaluate(cfg: DictConfig) -> dict:
    """Everything `python -m obstacles.commands.evaluate` does; returns metrics.json's and PROVENANCE_FILE's
    content in one dict (+ `out_dir`)."""
    job = plan(cfg)
    predictions = score(cfg, job)
    tables = compute_tables(predictions, job.thresholds, cfg.eval.sensitivity)
    payload = metrics_payload(tables)
    origin = provenance(cfg, job.target, job.settings.dataset, job.manifest, job.run_id)
    galleries = write_outputs(cfg, job, predictions, tables, payload, origin)
    if cfg.wandb.enabled:
        from obstacles.evaluation.wandb_log import log_evaluation

        wandb_dir = Path(cfg.wandb.dir) if cfg.wandb.dir else job.target.run_dir
        log_evaluation(
            cfg.wandb,
            job.out_dir,
            wandb_dir,
            job.run_id,
            config={"evaluate": OmegaConf.to_container(cfg, resolve=True)},
            predictions=predictions,
            tables=tables,
            payload=payload,
            galleries=galleries,
            name=job.target.run_dir.name,
        )
    return {**origin, **payload, "out_dir": str(job.out_dir)}
