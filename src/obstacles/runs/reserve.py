"""Run folders `experiments/NNN.<dataset>.<info>/`: the resolvers that name them (conf/hydra/default.yaml)
and the Hydra callback that reserves one when a training command starts.

Resolving a config only reads: `${run_dir:}` names the folder a resumed run writes into again (a
`ckpt_path=<run>/checkpoints/last.ckpt`), else the next free NNN in paths.experiments_dir, and
`${sweep_dir:}` the next free sweep folder; neither is made, so a notebook that composes `train`
and resolves `hydra.run.dir` creates nothing. `ReserveRunFolder`, the command's callback
(conf/hydra/default.yaml `callbacks:`), runs once when a run or sweep starts: it checks the config
(`obstacles.training.checks.preflight`: a run the config already dooms gets no number), makes the
folder under a file lock, so two runs started at once never share a number, and pins it as
`hydra.run.dir` or `hydra.sweep.dir`, as if typed on the command line. Whatever resolves it later
reads that value: each sweep job (Hydra composes a job's config again from those overrides), a submitit
job on another machine (its config travels with it), Lightning's DDP ranks (started with
`hydra.run.dir=<the folder>`). A folder given on the command line (the DVC train stage's
`hydra.run.dir=experiments/000.<name>.demo`) is used as it is. A resumed run writes its config into
`<run>/.hydra/resume-<k>/`, so the original `.hydra/config.yaml` stays.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from obstacles.infra.config import override_value
from obstacles.io.provenance import folder_wandb_run_id
from obstacles.runs.layout import CONFIG_DIR, LOCK_NAME, RUN_NUMBER
from obstacles.runs.lookup import checkpoint_run_dir

UNSAFE = re.compile(r"[^A-Za-z0-9_.+=,-]")
# Sweep job folders: no `=` or `,` (Hydra's override syntax), so a job's path pastes unquoted.
JOB_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
JOB_ASSIGN, JOB_SEPARATOR = "_", "+"
JOB_NAME_MAX = 150  # characters of a sweep job's folder name before it is cut and hashed
SIGNIFICANT = 4  # digits kept of swept float values in job folder names
# `hydra.<kind>.dir` as conf/hydra/default.yaml sets it: the folders the callback reserves
RESOLVED_DIRS = {"run": "${run_dir:}", "sweep": "${sweep_dir:}"}
SWEEP_PREFIX = "sweep-"  # NNN.<dataset>.sweep-<info>


def next_run_number(experiments_dir: Path) -> int:
    if not experiments_dir.is_dir():
        return 1
    numbers = [int(m.group(1)) for p in experiments_dir.iterdir() if (m := RUN_NUMBER.match(p.name))]
    return max(numbers, default=0) + 1


def run_folder_name(number: int, dataset: str, info: str) -> str:
    return f"{number:03d}.{UNSAFE.sub('_', dataset)}.{UNSAFE.sub('_', info)}"


def reserve_run_dir(experiments_dir: str | Path, dataset: str, info: str) -> Path:
    """Create and return `<experiments_dir>/NNN.<dataset>.<info>` with the next free NNN."""
    experiments_dir = Path(experiments_dir)
    experiments_dir.mkdir(parents=True, exist_ok=True)
    with open(experiments_dir / LOCK_NAME, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = experiments_dir / run_folder_name(next_run_number(experiments_dir), dataset, info)
        path.mkdir()
    return path


def folder_info(root: DictConfig, kind: str) -> str:
    """The `<info>` part of a run's or a sweep's folder name."""
    return f"{SWEEP_PREFIX}{root.run_info}" if kind == "sweep" else str(root.run_info)


def next_folder(root: DictConfig, kind: str) -> str:
    """The next free folder for a run or sweep (named only: `reserve_at_start` makes it)."""
    experiments_dir = Path(root.paths.experiments_dir)
    number = next_run_number(experiments_dir)
    return str(experiments_dir / run_folder_name(number, root.dataset.name, folder_info(root, kind)))


def run_dir(*, _root_: DictConfig) -> str:
    resumed = checkpoint_run_dir(_root_.get("ckpt_path"))
    return str(resumed) if resumed is not None else next_folder(_root_, "run")


def sweep_dir(*, _root_: DictConfig) -> str:
    return next_folder(_root_, "sweep")


def config_subdir(*, _root_: DictConfig) -> str:
    """`.hydra` for a new run; a resumed run keeps it and adds `.hydra/resume-<k>`."""
    resumed = checkpoint_run_dir(_root_.get("ckpt_path"))
    if resumed is None:
        return CONFIG_DIR
    return f"{CONFIG_DIR}/resume-{len(list((resumed / CONFIG_DIR).glob('resume-*'))) + 1}"


def reserve_at_start(config: DictConfig, kind: str) -> Path | None:
    """Reserve the run (or sweep) folder the resolver names and pin it (module docstring), once the
    config passed the checks that need no training; None where the command line names the folder."""
    if OmegaConf.to_container(config.hydra[kind], resolve=False).get("dir") != RESOLVED_DIRS[kind]:
        return None
    from obstacles.training.checks import preflight  # model and data imports: only when reserving

    try:  # a plain exit: Hydra turns any other error of a callback into a warning and runs on
        preflight(config)
        folder = reserve_run_dir(config.paths.experiments_dir, config.dataset.name, folder_info(config, kind))
    except Exception as exc:
        raise SystemExit(f"error: {exc}\n(refused before training: no run folder was made)") from exc
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra[kind].dir = str(folder)
        config.hydra.overrides.hydra.append(f"hydra.{kind}.dir={override_value(str(folder))}")
    return folder


class ReserveRunFolder(Callback):
    """conf/hydra/default.yaml's callback: a new run or sweep reserves its folder as it starts."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if checkpoint_run_dir(config.get("ckpt_path")) is None:  # a resumed run writes into its own folder
            reserve_at_start(config, "run")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        reserve_at_start(config, "sweep")


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
