"""Run folders `experiments/NNN.<dataset>.<info>/` as OmegaConf resolvers (`conf/hydra/`).

NNN is the next free number in paths.experiments_dir, reserved under a file lock so two
runs started at once never share a number. Hydra evaluates `hydra.run.dir` and
`hydra.sweep.dir` several times (once per sweep job, again for Lightning's DDP
launcher), so the folder is reserved once per command and remembered in an environment
variable: every later evaluation in this process, and in processes it starts (submitit
jobs, DDP ranks), gets the same folder even when a job's overrides change the name parts.
`main()` forgets them at the start of each command. A run resumed from
`<run>/checkpoints/last.ckpt` (`ckpt_path=`) writes into `<run>` again, its config into
`<run>/.hydra/resume-<k>/` so the original `.hydra/config.yaml` stays.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.io.provenance import folder_wandb_run_id
from obstacles.runs.layout import CHECKPOINTS_DIR, CONFIG_DIR, LOCK_NAME, RUN_NUMBER

UNSAFE = re.compile(r"[^A-Za-z0-9_.+=,-]")
# Sweep job folders: no `=` or `,` (Hydra's override syntax), so a job's path pastes unquoted.
JOB_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
JOB_ASSIGN, JOB_SEPARATOR = "_", "+"
JOB_NAME_MAX = 150  # characters of a sweep job's folder name before it is cut and hashed
SIGNIFICANT = 4  # digits kept of swept float values in job folder names
RESERVED_ENV = {"run": "OBSTACLES_RUN_DIR", "sweep": "OBSTACLES_SWEEP_DIR"}


def next_run_number(experiments_dir: Path) -> int:
    numbers = [int(m.group(1)) for p in experiments_dir.iterdir() if (m := RUN_NUMBER.match(p.name))]
    return max(numbers, default=0) + 1


def reserve_run_dir(experiments_dir: str | Path, dataset: str, info: str) -> Path:
    """Create and return `<experiments_dir>/NNN.<dataset>.<info>` with the next free NNN."""
    experiments_dir = Path(experiments_dir)
    experiments_dir.mkdir(parents=True, exist_ok=True)
    with open(experiments_dir / LOCK_NAME, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        number = next_run_number(experiments_dir)
        path = experiments_dir / f"{number:03d}.{UNSAFE.sub('_', dataset)}.{UNSAFE.sub('_', info)}"
        path.mkdir()
    return path


def checkpoint_run_dir(ckpt_path: str | Path | None) -> Path | None:
    """The run folder a checkpoint was saved in (`<run>/checkpoints/x.ckpt`), if it was."""
    if not ckpt_path:
        return None
    parent = Path(ckpt_path).parent
    return parent.parent if parent.name == CHECKPOINTS_DIR else None


def reserved_once(kind: str, root: DictConfig, info: str) -> str:
    """The folder reserved for this command's run or sweep, reserving it on first use, once the
    config passed the checks that need no training (`obstacles.training.checks.preflight`)."""
    variable = RESERVED_ENV[kind]
    if variable not in os.environ:
        from obstacles.training.checks import preflight  # model and data imports: only when reserving

        try:  # a run the config already dooms gets no number and no folder
            preflight(root)
        except (ValueError, OSError) as exc:  # a plain exit: Hydra cannot format errors raised here
            raise SystemExit(f"error: {exc}\n(refused before training: no run folder was made)") from exc
        os.environ[variable] = str(reserve_run_dir(root.paths.experiments_dir, root.dataset.name, info))
    return os.environ[variable]


def forget_reserved_dirs() -> None:
    """Start a new command: the next run or sweep reserves a new number."""
    for variable in RESERVED_ENV.values():
        os.environ.pop(variable, None)


def run_dir(*, _root_: DictConfig) -> str:
    resumed = checkpoint_run_dir(_root_.get("ckpt_path"))
    return str(resumed) if resumed is not None else reserved_once("run", _root_, _root_.run_info)


def sweep_dir(*, _root_: DictConfig) -> str:
    return reserved_once("sweep", _root_, f"sweep-{_root_.run_info}")


def config_subdir(*, _root_: DictConfig) -> str:
    """`.hydra` for a new run; a resumed run keeps it and adds `.hydra/resume-<k>`."""
    resumed = checkpoint_run_dir(_root_.get("ckpt_path"))
    if resumed is None:
        return CONFIG_DIR
    return f"{CONFIG_DIR}/resume-{len(list((resumed / CONFIG_DIR).glob('resume-*'))) + 1}"


def _short_value(value: str) -> str:
    """A float with more than SIGNIFICANT digits, shortened; anything else as typed."""
    try:
        number = float(value)
    except ValueError:
        return value
    short = f"{number:.{SIGNIFICANT}g}"
    return value if float(short) == number else short


def job_dir_name(job_num: int, override_dirname: str) -> str:
    """`<job_num>.<key>_<value>+<key>_<value>` for a sweep job's folder: floats shortened, cut (with a
    hash of the whole) when long, and only characters Hydra's command line takes unquoted, so the
    folder's path pastes as it is into `ckpt_path=` or `runs=`; `.hydra/overrides.yaml` keeps the
    exact values."""
    items = [item.partition("=") for item in override_dirname.split(",") if item]
    name = JOB_SEPARATOR.join(f"{key}{JOB_ASSIGN if sep else ''}{_short_value(value)}" for key, sep, value in items)
    name = JOB_UNSAFE.sub("_", name)
    if len(name) > JOB_NAME_MAX:
        name = f"{name[:JOB_NAME_MAX]}-{hashlib.sha1(override_dirname.encode()).hexdigest()[:8]}"
    return f"{job_num}.{name}" if name else str(job_num)


def _relative_run(output_dir: str, experiments_dir: str) -> Path:
    output, experiments = Path(output_dir).resolve(), Path(experiments_dir).resolve()
    return output.relative_to(experiments) if output.is_relative_to(experiments) else Path(output.name)


def run_name(output_dir: str, experiments_dir: str) -> str:
    """`NNN.dataset.info`, or `NNN.dataset.sweep-info/job` for a sweep job (W&B run name)."""
    return _relative_run(output_dir, experiments_dir).as_posix()


def run_group(output_dir: str, experiments_dir: str) -> str:
    """The run's own folder, or its sweep's folder: jobs of one sweep share a W&B group."""
    return _relative_run(output_dir, experiments_dir).parts[0]


RESOLVERS = {
    "run_dir": (run_dir, False),
    "sweep_dir": (sweep_dir, False),
    "config_subdir": (config_subdir, False),
    "job_dir_name": (job_dir_name, False),
    "run_name": (run_name, False),
    "run_group": (run_group, False),
    "previous_wandb_id": (folder_wandb_run_id, True),
}


def register_resolvers() -> None:
    """Make the resolvers above available to configs (idempotent)."""
    for name, (function, cached) in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function, use_cache=cached)
