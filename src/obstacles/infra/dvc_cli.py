"""Running DVC from the tools: always this environment's DVC (`python -m dvc`), whatever PATH says,
so a tool started from the venv never picks up another installation's."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

DVC = (sys.executable, "-m", "dvc")
# Every DVC pipeline of the project, in the order `make demo` reproduces them: the main one, then
# the optional ones a plain `dvc repro` never runs (the audit; the out-of-fold label issues, a
# frozen stage whose recorded outputs are committed). `dvc status` looks at all of them.
PIPELINES = ("dvc.yaml", "pipelines/audit/dvc.yaml", "pipelines/label_issues/dvc.yaml")
DVC_TMP = Path(".dvc") / "tmp"
RWLOCK = DVC_TMP / "rwlock"  # DVC's record of the stages' read/write locks (JSON)
# what a live DVC process holds while it runs or edits the rwlock (zc.lockfile: an flock on each)
DVC_PROCESS_LOCKS = (DVC_TMP / "lock", DVC_TMP / "rwlock.lock")


def clear_stale_rwlock(root: Path) -> Path | None:
    """Remove `.dvc/tmp/rwlock` when it is empty and no live DVC process holds the project's locks;
    the path removed, else None (absent, holding locks, or in use: left alone).

    A SIGINT just as a stage ends can leave that file empty (an upstream DVC bug, treeverse/dvc#7615),
    and every `dvc repro` then fails with "Unable to read RWLock-file" until someone deletes it. An
    empty file records no lock, so removing it loses nothing; the flocks taken here (as DVC takes
    them) make sure no DVC process is between writing and filling it."""
    path = Path(root) / RWLOCK
    if not path.is_file() or path.read_bytes().strip():
        return None
    with ExitStack() as held:
        for lock in DVC_PROCESS_LOCKS:
            if not (Path(root) / lock).exists():
                continue
            fd = os.open(Path(root) / lock, os.O_RDONLY)
            held.callback(os.close, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EACCES):
                    return None  # a live DVC process: its rwlock is its own business
                raise
        if path.read_bytes().strip():  # filled meanwhile
            return None
        path.unlink()
        return path


def dvc_add(root: Path, target: str = "data") -> None:
    """`dvc add <target>` in the project at root, so its new contents are versioned."""
    subprocess.run([*DVC, "add", target], cwd=root, check=True)
