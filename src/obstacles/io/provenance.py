"""What produced an output: file hashes, the code's git commit, the W&B run a folder holds."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from obstacles.infra.config import PROJECT_ROOT

GIT_TIMEOUT_S = 30


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def git_state(repo: Path = PROJECT_ROOT) -> dict:
    """Commit (and whether the tree had local changes) of the code that ran, when git can tell."""

    def ask(*args):
        try:
            done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = ask("rev-parse", "HEAD")
    status = ask("status", "--porcelain", "--untracked-files=no") if commit else None
    dirty = None if status is None else bool(status.strip())
    return {"git_commit": commit.strip() if commit else None, "git_dirty": dirty}


def folder_wandb_run_id(folder: str | Path) -> str | None:
    """Id of the latest W&B run already in `<folder>/wandb/` (resuming or attaching continues it)."""
    runs = sorted((Path(folder) / "wandb").glob("*run-*-*"), key=lambda p: p.name.split("run-", 1)[1])
    return runs[-1].name.rsplit("-", 1)[1] if runs else None
