"""Finding a trained run: `find_run`, the one lookup every tool uses (evaluation, similarity search,
audit, data map, export, benchmarks) from a checkpoint, a run folder or "the latest run"; loading
its model is `obstacles.runs.loading`.

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


def _checkpoint(given: str | Path | None, experiments_dir: str | Path | None) -> Path:
    """`given` (a checkpoint file, or a run or sweep folder: its preferred checkpoint), else the
    preferred checkpoint of the latest finished run in experiments_dir (highest NNN whose training
    wrote its completion record). Errors name the path that was looked at, so a typo or an
    untrained project is obvious."""
    if given:
        path = Path(given)
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
    if experiments_dir is None:
        raise ValueError("find_run needs a ckpt_path, a run_dir or the experiments_dir to take the latest run from")
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


def checkpoint_run_dir(ckpt_path: str | Path | None) -> Path | None:
    """The run folder a checkpoint was saved in (`<run>/checkpoints/x.ckpt`), if it was."""
    if not ckpt_path:
        return None
    parent = Path(ckpt_path).parent
    return parent.parent if parent.name == CHECKPOINTS_DIR else None


def read_run_config(run_dir: Path) -> DictConfig | None:
    """A run folder's composed training config, or None when it has none."""
    path = run_dir / RUN_CONFIG
    return OmegaConf.load(path) if path.is_file() else None


@dataclass(frozen=True)
class Run:
    """A trained run as every tool sees it: its folder, the checkpoint that stands for it, and the
    config and completion record the folder holds (None and {} where it holds none). A checkpoint
    outside any run folder stands in the folder it lies in."""

    run_dir: Path
    checkpoint: Path
    config: DictConfig | None
    record: dict

    @property
    def config_path(self) -> Path:
        return self.run_dir / RUN_CONFIG

    @property
    def wandb_run_id(self) -> str | None:
        """The training run's W&B id: from run.json, else the run already in `<run>/wandb/`."""
        return self.record.get("wandb_run_id") or folder_wandb_run_id(self.run_dir)


def find_run(
    ckpt_path: str | Path | None = None,
    *,
    run_dir: str | Path | None = None,
    experiments_dir: str | Path | None = None,
) -> Run:
    """The run a tool works on, from what its command line gives: `ckpt_path` (a checkpoint file,
    or a run or sweep folder: its preferred checkpoint), else `run_dir` (a run folder: its
    preferred checkpoint), else the latest finished run under `experiments_dir`. The run's folder
    is `run_dir` when given (its config and record go with an explicit checkpoint), else the
    folder the checkpoint was saved in."""
    if run_dir and not ckpt_path and not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run_dir={run_dir}: no such run folder")
    checkpoint = _checkpoint(ckpt_path or run_dir, experiments_dir)
    folder = Path(run_dir) if run_dir else checkpoint_run_dir(checkpoint) or checkpoint.parent
    return Run(folder, checkpoint, read_run_config(folder), read_run_record(folder / RUN_RECORD))
