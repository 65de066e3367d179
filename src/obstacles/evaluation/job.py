"""One evaluation, start to end: find the checkpoint, check it, score, write, log.

Order matters: every check that can fail (checkpoint, config, dataset, output folder) runs
before scoring; the outputs are built in a hidden folder and renamed into place complete;
W&B logging comes last, from the finished folder.

`evaluate(settings)` runs conf/evaluate.yaml's settings (`EvaluateSettings`: the command, tests);
`run_evaluation` below it takes them apart (compare, notebooks).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

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
from obstacles.evaluation.settings import (
    DataSettings,
    EvaluateSettings,
    GallerySettings,
    ScoringSettings,
    data_settings,
    split_caveat,
)
from obstacles.infra.tracking import WandbSettings, new_run_id
from obstacles.io.outputs import atomic_dir
from obstacles.io.provenance import file_sha256, git_state
from obstacles.runs.layout import EVAL_DIR
from obstacles.runs.loading import build_model, read_checkpoint
from obstacles.runs.lookup import Run, find_run

# Outlive a re-evaluation: offline W&B runs (e.g. the threshold search's), and the .gitignore
# DVC keeps beside the stage's cached outputs (it is committed, so a fresh clone has it).
KEPT_ENTRIES = ("wandb", ".gitignore")


@dataclass(frozen=True)
class RunSelection:
    """Which checkpoint and run to evaluate (None: the latest)."""

    ckpt_path: str | None
    run_dir: str | None
    experiments_dir: str | Path  # where "the latest run" is looked for


@dataclass(frozen=True)
class DataPaths:
    """Where the datasets are, and the root their manifests' image paths are relative to."""

    datasets_dir: Path
    root_dir: Path
    manifest_file: str  # inside the dataset's folder


def output_dir(out_dir: Path | None, target: Run, protected: list[Path]) -> Path:
    """Where to write; refuses a folder whose replacement would destroy something else."""
    out_dir = Path(out_dir) if out_dir else target.run_dir / EVAL_DIR
    resolved = out_dir.resolve()
    for path in protected:
        if resolved == path.resolve() or resolved in path.resolve().parents:
            raise ValueError(f"out_dir={out_dir} would replace {path}: choose a folder of its own")
    ours = (resolved / METRICS_FILE).is_file() or (resolved / PREDICTIONS_FILE).is_file()
    if resolved.is_dir() and not ours and any(p.name not in KEPT_ENTRIES for p in resolved.iterdir()):
        raise ValueError(f"out_dir={out_dir} holds files that are not an evaluation's; it would be replaced as a whole")
    return out_dir


def provenance(target: Run, dataset: str, split: str, manifest: Path, run_id: str | None, project: str | None) -> dict:
    """What was evaluated on what (METRICS_PROVENANCE_FILE, beside metrics.json): the keys `obstacles.thresholds`
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
        "split": split,
        "manifest_sha256": manifest_sha,
        "train_manifest_sha256": trained_on,
        "wandb_run_id": run_id,
        "wandb_project": project if run_id else None,
        **git_state(),
    }


def keep_entries(old: Path, new: Path) -> None:
    for name in KEPT_ENTRIES:
        if (old / name).exists() and not (new / name).exists():
            shutil.move(str(old / name), str(new / name))


def wandb_run_id(configured: str | None, target: Run, logging: bool) -> str | None:
    """The configured id, else the training run's, else a new one when logging (the threshold
    search attaches to whatever metrics.provenance.json names, even if this evaluation logs nothing)."""
    run_id = configured or target.wandb_run_id
    if run_id is None and logging:
        run_id = new_run_id()
    return run_id


@dataclass(frozen=True)
class Plan:
    """Everything checked before scoring: what to score, how to read it, where to write."""

    target: Run
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


def plan(
    selection: RunSelection,
    scoring: ScoringSettings,
    expected: Mapping[str, object],
    paths: DataPaths,
    out_dir: Path | None,
    *,
    configured_run_id: str | None,
    logging: bool,
) -> Plan:
    """Run every check that can fail (checkpoint, config, dataset, output folder), in seconds."""
    target = find_run(selection.ckpt_path, run_dir=selection.run_dir, experiments_dir=selection.experiments_dir)
    checkpoint = read_checkpoint(target.checkpoint)
    settings = data_settings(expected, target, checkpoint["hyper_parameters"])
    thresholds = check_thresholds(scoring.thresholds)
    dataset_dir = Path(paths.datasets_dir) / settings.dataset
    manifest = dataset_dir / paths.manifest_file
    rows = split_rows(manifest, scoring.split, Path(paths.root_dir))
    protected = [target.run_dir, target.checkpoint, dataset_dir, Path.cwd()]
    out_dir = output_dir(out_dir, target, protected)
    run_id = wandb_run_id(configured_run_id, target, logging)
    return Plan(target, checkpoint, settings, thresholds, dataset_dir, manifest, rows, out_dir, run_id)


def score(scoring: ScoringSettings, job: Plan) -> pd.DataFrame:
    print(f"evaluating {job.target.checkpoint} on {len(job.rows)} {scoring.split} pairs of {job.settings.dataset}")
    caveat = split_caveat(job.target, scoring.split)
    if caveat:
        print(caveat)
    return score_rows(
        build_model(job.checkpoint),
        job.rows,
        panels=job.settings.panels,
        with_diff_mask=job.settings.with_diff_mask,
        panel_size=job.settings.panel_size,
        batch_size=scoring.batch_size,
        num_workers=scoring.num_workers,
        device=pick_device(scoring.device),
        progress=scoring.progress,
    )


def write_outputs(
    job: Plan,
    gallery: GallerySettings,
    root_dir: Path,
    predictions: pd.DataFrame,
    tables: Tables,
    payload: dict,
    origin: dict,
) -> list[Gallery]:
    """The whole evaluation folder, renamed into place only once complete."""
    with atomic_dir(job.out_dir) as folder:
        write_report(folder, predictions, tables, payload, origin, job.title)
        galleries = [
            write_gallery(
                folder,
                Path(root_dir),
                predictions,
                threshold,
                title=job.title,
                decimals=gallery.score_decimals,
                thumb_width=gallery.thumb_width,
            )
            for threshold in job.thresholds
        ]
        keep_entries(job.out_dir, folder)
    return galleries


def run_evaluation(
    selection: RunSelection,
    scoring: ScoringSettings,
    gallery: GallerySettings,
    paths: DataPaths,
    out_dir: Path | None = None,
    expected: Mapping[str, object] | None = None,
    *,
    wandb_run_id: str | None = None,
    wandb_project: str | None = None,
    wandb: WandbSettings | None = None,
    wandb_config: dict | None = None,
) -> dict:
    """Check, score, write into ``out_dir`` (None: `<run folder>/eval`); then log to W&B with the
    ``wandb`` settings (None: not at all), recording ``wandb_config`` as the run's config.

    ``expected``: model/data settings (`EXPECTED_KEYS` -> value, only those set) that override the
    run's config and must fit the checkpoint. ``wandb_run_id``/``wandb_project``: the W&B run the
    provenance names even when not logging (None: the training run's). Returns metrics.json's and
    METRICS_PROVENANCE_FILE's content in one dict (+ ``out_dir``).
    """
    job = plan(
        selection, scoring, expected or {}, paths, out_dir, configured_run_id=wandb_run_id, logging=wandb is not None
    )
    predictions = score(scoring, job)
    tables = compute_tables(predictions, job.thresholds, scoring.sensitivity)
    payload = metrics_payload(tables)
    origin = provenance(job.target, job.settings.dataset, scoring.split, job.manifest, job.run_id, wandb_project)
    galleries = write_outputs(job, gallery, paths.root_dir, predictions, tables, payload, origin)
    if wandb is not None:
        from obstacles.evaluation.wandb_log import log_evaluation

        wandb_dir = Path(wandb.dir) if wandb.dir else job.target.run_dir
        log_evaluation(
            wandb,
            job.out_dir,
            wandb_dir,
            job.run_id,
            config=wandb_config or {},
            predictions=predictions,
            tables=tables,
            payload=payload,
            galleries=galleries,
            name=job.target.run_dir.name,
        )
    return {**origin, **payload, "out_dir": str(job.out_dir)}


def evaluate(settings: EvaluateSettings) -> dict:
    """`run_evaluation` with conf/evaluate.yaml's settings: everything `python -m
    obstacles.commands.evaluate` does; returns what `run_evaluation` does."""
    logging = settings.wandb.enabled
    paths = settings.paths
    return run_evaluation(
        RunSelection(settings.ckpt_path, settings.run_dir, experiments_dir=paths["experiments_dir"]),
        settings.eval,
        settings.gallery,
        DataPaths(Path(paths["datasets_dir"]), Path(paths["root_dir"]), manifest_file=settings.dataset.manifest_file),
        Path(settings.out_dir) if settings.out_dir else None,
        settings.expected(),
        wandb_run_id=settings.wandb.run_id,
        wandb_project=settings.wandb.project,
        wandb=settings.wandb if logging else None,
        wandb_config={"evaluate": asdict(settings)} if logging else None,
    )
