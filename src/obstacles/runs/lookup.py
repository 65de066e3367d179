"""Finding and loading a trained classifier: the one run lookup and checkpoint loader, shared by
evaluation, similarity search, audit, export and comparison.

A run folder is `experiments/NNN.<dataset>.<info>/` (a sweep's jobs one level deeper), holding
`checkpoints/best.ckpt`, the composed config `.hydra/config.yaml` (experiments/README.md) and,
once training finished, its completion record `run.json`. "The latest run" is the latest
*finished* one: a run killed after its first checkpoint has checkpoints but no record, and is
skipped with a message saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from obstacles.io.provenance import folder_wandb_run_id
from obstacles.runs.layout import CHECKPOINTS_DIR, PREFERRED_CHECKPOINTS, RUN_CONFIG, RUN_NUMBER, RUN_RECORD
from obstacles.runs.record import read_run_record
from obstacles.runs.reserve import checkpoint_run_dir

# First pattern with a match wins (its newest file): the best checkpoint, else the last one.
ARCHITECTURE_KEYS = ("backbone", "in_chans")  # what a checkpoint must record to be rebuilt


def is_finished(job_dir: Path) -> bool:
    """Whether training in this run (or sweep job) folder finished: its completion record exists."""
    return (job_dir / RUN_RECORD).is_file()


def job_dirs(run_dir: Path) -> list[Path]:
    """Folders holding checkpoints: the run itself, or a sweep's jobs; newest checkpoint first."""
    jobs = [p.parent for p in (*run_dir.glob(CHECKPOINTS_DIR), *run_dir.glob(f"*/{CHECKPOINTS_DIR}")) if p.is_dir()]
    return sorted(jobs, key=_newest_checkpoint_time, reverse=True)


def _newest_checkpoint_time(job_dir: Path) -> tuple[int, str]:
    times = [p.stat().st_mtime_ns for p in (job_dir / CHECKPOINTS_DIR).glob("*.ckpt")]
    return max(times, default=-1), job_dir.name


def preferred_checkpoint(run_dir: Path, accept: Callable[[Path], bool] = lambda job: True) -> Path | None:
    """A run folder's preferred checkpoint; in a sweep folder, that of its newest accepted job."""
    for job in job_dirs(run_dir):
        if not accept(job):
            continue
        for pattern in PREFERRED_CHECKPOINTS:
            matches = list(job.glob(f"{CHECKPOINTS_DIR}/{pattern}"))
            if matches:
                return max(matches, key=lambda p: (p.stat().st_mtime_ns, p.name))
    return None


def numbered_runs(experiments_dir: Path) -> list[Path]:
    """Run folders `NNN.*`, highest number first."""
    if not experiments_dir.is_dir():
        return []
    runs = [(int(m.group(1)), p) for p in experiments_dir.iterdir() if p.is_dir() and (m := RUN_NUMBER.match(p.name))]
    return [path for _, path in sorted(runs, reverse=True)]


def _skip_unfinished(job: Path) -> bool:
    if is_finished(job):
        return True
    print(
        f"skipping {job}: it has checkpoints but no {RUN_RECORD}, so its training did not finish "
        "(interrupted, killed or still running); pass ckpt_path= to use it anyway"
    )
    return False


def find_checkpoint(experiments_dir: str | Path, ckpt_path: str | Path | None = None) -> Path:
    """`ckpt_path` if given (a checkpoint file, or a run folder), else the preferred checkpoint of
    the latest finished run (highest NNN whose training wrote its completion record).

    Errors name the path that was looked at, so a typo or an untrained project is obvious.
    """
    if ckpt_path:
        path = Path(ckpt_path)
        if path.is_dir():
            found = preferred_checkpoint(path)
            if found is None:
                raise FileNotFoundError(
                    f"{path} has no checkpoint matching {list(PREFERRED_CHECKPOINTS)} in {CHECKPOINTS_DIR}/"
                )
            if not is_finished(found.parent.parent):
                print(f"warning: {found.parent.parent} has no {RUN_RECORD}: its training did not finish")
            return found
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path}: no such file")
        return path
    experiments = Path(experiments_dir)
    for run in numbered_runs(experiments):
        found = preferred_checkpoint(run, accept=_skip_unfinished)
        if found is not None:
            return found
    raise FileNotFoundError(
        f"no finished run with a checkpoint under {experiments} (looked for NNN.*/{CHECKPOINTS_DIR}/"
        f"{{{','.join(PREFERRED_CHECKPOINTS)}}} beside a {RUN_RECORD}): "
        "train one (python -m obstacles.commands.train) or pass ckpt_path=<file or run folder>"
    )


def read_run_config(run_dir: Path, relative: str = RUN_CONFIG) -> DictConfig | None:
    """A run folder's composed training config, or None when it has none."""
    path = run_dir / relative
    return OmegaConf.load(path) if path.is_file() else None


def run_config(ckpt_path: str | Path) -> DictConfig | None:
    """The composed config of the run that saved this checkpoint, if it sits in its run folder."""
    run = checkpoint_run_dir(ckpt_path)
    return None if run is None else read_run_config(run)


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


def resolve_checkpoint(ckpt_path: str | None, run_dir: str | None, experiments_dir: str | Path) -> Path:
    """ckpt_path as given, else run_dir's preferred checkpoint, else the latest run's."""
    if run_dir and not ckpt_path and not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run_dir={run_dir}: no such run folder")
    return find_checkpoint(experiments_dir, ckpt_path or run_dir)


def locate(
    ckpt_path: str | None,
    run_dir: str | None,
    experiments_dir: str | Path,
    *,
    config_file: str = RUN_CONFIG,
    record_file: str = RUN_RECORD,
) -> RunTarget:
    """The checkpoint and its run (run_dir wins over the checkpoint's own folder)."""
    checkpoint = resolve_checkpoint(ckpt_path, run_dir, experiments_dir)
    folder = Path(run_dir) if run_dir else checkpoint_run_dir(checkpoint) or checkpoint.parent
    config = read_run_config(folder, config_file)
    return RunTarget(checkpoint, folder, config, folder / config_file, read_run_record(folder / record_file))


def read_checkpoint(path: Path) -> dict:
    """The checkpoint's contents (tensors and plain values only: no code runs on load), or an
    error naming the file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read checkpoint {path}: {error}") from error
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not hparams or any(key not in hparams for key in ARCHITECTURE_KEYS) or "state_dict" not in checkpoint:
        raise ValueError(
            f"checkpoint {path} is not an ObstacleClassifier checkpoint: it lacks hyper_parameters "
            f"{list(ARCHITECTURE_KEYS)} or a state_dict"
        )
    return checkpoint


def build_model(checkpoint: dict):
    """The trained network in eval mode. `pretrained` is forced off: the checkpoint holds every
    weight, so nothing is downloaded even when the run started from pretrained weights."""
    from obstacles.models.module import ObstacleClassifier  # Lightning import only when a model is needed

    model = ObstacleClassifier(**{**checkpoint["hyper_parameters"], "pretrained": False})
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def load_classifier(ckpt_path: str | Path):
    """(model in eval mode, run config or None) from a checkpoint file."""
    return build_model(read_checkpoint(Path(ckpt_path))), run_config(ckpt_path)
