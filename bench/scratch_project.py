"""A scratch copy of the project (OBSTACLES_ROOT) that a benchmark drives through the command line,
as a user runs it: its commands, their environment, and one log of everything they printed."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def project_env(project: Path) -> dict[str, str]:
    """Commands run on `project` (its conf/, data and outputs), W&B offline, hashing seeded."""
    return {**os.environ, "OBSTACLES_ROOT": str(project), "WANDB_MODE": "offline", "PYTHONHASHSEED": "0"}


def sh(command: list[str], env: dict[str, str], log: Path) -> float:
    """Run one command in the project, appending its output to `log`; its wall seconds. A failure
    stops the benchmark, pointing at the log."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, cwd=env["OBSTACLES_ROOT"], env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}; see {log}")
    return time.monotonic() - started
