"""Finding and loading a trained classifier: shared by similarity search, audit, export and evaluation.

A run folder is `experiments/NNN.<dataset>.<info>/` (a sweep's jobs one level deeper), holding
`checkpoints/best.ckpt`, the composed config `.hydra/config.yaml` (experiments/README.md) and,
once training finished, its completion record `run.json`. "The latest run" is the latest
*finished* one: a run killed after its first checkpoint has checkpoints but no record, and is
skipped with a message saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from obstacles.training.run_dir import CHECKPOINTS_DIR, CONFIG_DIR, RUN_NUMBER, RUN_RECORD, checkpoint_run_dir

# First pattern with a match wins (its newest file): the best checkpoint, else the last one.
PREFERRED = ("best*.ckpt", "last*.ckpt")
RUN_CONFIG = "config.yaml"


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
        for pattern in PREFERRED:
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
                raise FileNotFoundError(f"{path} has no checkpoint matching {list(PREFERRED)} in {CHECKPOINTS_DIR}/")
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
        f"{{{','.join(PREFERRED)}}} beside a {RUN_RECORD}): "
        "train one (python -m obstacles.commands.train) or pass ckpt_path=<file or run folder>"
    )


def run_config(ckpt_path: str | Path) -> DictConfig | None:
    """The composed config of the run that saved this checkpoint, if it sits in its run folder."""
    run = checkpoint_run_dir(ckpt_path)
    path = None if run is None else run / CONFIG_DIR / RUN_CONFIG
    return OmegaConf.load(path) if path is not None and path.is_file() else None


def load_classifier(ckpt_path: str | Path, map_location: str = "cpu"):
    """(model in eval mode, run config or None) from a Lightning checkpoint.

    `pretrained` is forced off: the checkpoint holds every weight, so nothing is downloaded
    even when the run started from pretrained weights.
    """
    from obstacles.models.module import ObstacleClassifier  # Lightning import only when a model is needed

    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    model = ObstacleClassifier.load_from_checkpoint(path, map_location=map_location, pretrained=False)
    return model.eval(), run_config(path)
