"""A command as a user runs it, with W&B offline and its files kept inside the test's folder:
`run_module` in a fresh process (one command-line test per command), `run_in_process` the same
Hydra main in the test's process. A fresh process pays about 10 s of imports (torch, Lightning,
timm, W&B) on 2 cores, so every other test of a command runs it in process."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
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
    check_exit(result, command[2:], succeed)
    return result


def check_exit(result: subprocess.CompletedProcess, command: list[str], succeed: bool | None) -> None:
    if succeed is not None:
        assert (result.returncode == 0) == succeed, f"{' '.join(command)}: exit {result.returncode}\n" + (
            result.stdout[-3000:] + result.stderr[-3000:]
        )


def run_in_process(root: Path, module: str, *args: str, succeed: bool | None = True) -> subprocess.CompletedProcess:
    """`run_module`'s run in this process: the module's `main()` (Hydra's, with its callbacks, run
    folder and error report) under `sys.argv`, from root, W&B offline; its exit status and what it
    printed, as a CompletedProcess."""
    main = importlib.import_module(module).main
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    with offline_wandb(root), pytest.MonkeyPatch.context() as patch, redirect_stdout(stdout), redirect_stderr(stderr):
        patch.chdir(root)
        patch.setattr(sys, "argv", [module, *args])
        try:
            main()
        except SystemExit as exit_:  # as the interpreter ends: a message goes to stderr, status 1
            code = exit_.code or 0
            if not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
    result = subprocess.CompletedProcess([module, *args], code, stdout.getvalue(), stderr.getvalue())
    check_exit(result, [module, *args], succeed)
    return result
