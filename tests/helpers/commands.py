"""A command as a user runs it: `python -m obstacles.commands.<tool>` in a fresh process, with W&B
offline and its files kept inside the test's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CLI_TIMEOUT_S = 300


def wandb_env(root: Path) -> dict[str, str]:
    """The environment a test's command runs in: W&B offline and quiet, its files inside root."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.update({key: str(root / "wandb-home") for key in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")})
    return env


@contextmanager
def offline_wandb(root: Path) -> Iterator[None]:
    """This process's environment as `wandb_env` makes a command's, for in-process tool runs."""
    with pytest.MonkeyPatch.context() as env:
        for key, value in wandb_env(root).items():
            env.setenv(key, value)
        yield


def run_module(root: Path, module: str, *args: str, succeed: bool | None = True) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` in a fresh process, from root, W&B offline (`wandb_env`).
    `succeed`: True, it must exit 0; False, it must fail; None, either."""
    command = [sys.executable, "-m", module, *args]
    result = subprocess.run(
        command,
        cwd=root,
        env=wandb_env(root),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    if succeed is not None:
        assert (result.returncode == 0) == succeed, f"{' '.join(command[2:])}: exit {result.returncode}\n" + (
            result.stdout[-3000:] + result.stderr[-3000:]
        )
    return result
