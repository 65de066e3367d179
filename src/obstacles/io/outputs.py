"""Stage outputs that appear under their final name only when complete."""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so nothing can be proven stale and nothing is removed
    fcntl = None

log = logging.getLogger(__name__)


# Beside each final output `name`, only these hidden names belong to atomic_dir (the token is 8 of
# tempfile's characters): `.name.<token>.partial` is a writer's folder under construction (held
# with an flock by its live writer), `.name.<token>.partial-new` the same in the instant before it
# is locked, `.name.<token>.partial-old` a replaced output on its way to deletion.
_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_TOKEN_LENGTH = 8
_BUILDING, _STARTING, _ASIDE = ".partial", ".partial-new", ".partial-old"
_STARTING_STALE_S = 3600.0  # a `.partial-new` this old lost its writer between mkdir and lock
_SWAP_RETRIES = 1000
_ASIDE_LOCK_WAIT_S = 5.0


def _token() -> str:
    return "".join(secrets.choice(_TOKEN_CHARS) for _ in range(_TOKEN_LENGTH))


def _own_names(name: str) -> re.Pattern:
    kinds = "|".join(re.escape(k) for k in (_BUILDING, _STARTING, _ASIDE))
    return re.compile(rf"\.{re.escape(name)}\.[{_TOKEN_CHARS}]{{{_TOKEN_LENGTH}}}({kinds})")


def _try_lock(path: Path, wait_s: float = 0.0) -> int | None:
    """A descriptor of path holding an exclusive flock on it, or None: gone, or held (after wait_s)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            os.close(fd)
            return None
        try:  # still the entry we opened (a writer may have renamed it into place meanwhile)
            current = os.stat(path, follow_symlinks=False)
        except OSError:
            current = None
        opened = os.fstat(fd)
        if current is None or (current.st_dev, current.st_ino) != (opened.st_dev, opened.st_ino):
            os.close(fd)
            return None
        return fd


def _remove(path: Path) -> None:
    """Delete a file or folder tree; what vanishes meanwhile (another remover) is no error."""

    def ignore_vanished(function, name, exc_info):
        if not issubclass(exc_info[0], FileNotFoundError):
            raise exc_info[1]

    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, onerror=ignore_vanished)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def _remove_locked(path: Path, wait_s: float = 0.0) -> bool:
    """Remove path if we can hold its lock: nobody alive is using it. Best effort; True if removed."""
    fd = _try_lock(path, wait_s)
    if fd is None:
        return False
    try:
        _remove(path)
        return True
    except OSError as error:
        log.warning("could not remove %s: %s", path, error)
        return False
    finally:
        os.close(fd)


def remove_stale_partials(final: str | Path) -> list[Path]:
    """Remove what dead writers of `final` left beside it; return what was removed.

    A writer holds an exclusive flock on its `.partial` folder from creation until the folder is
    renamed into place or deleted, and the kernel drops the lock when the writer dies, however it
    dies (SIGKILL, OOM, power loss). So a `.partial` or `.partial-old` whose lock we can take has no
    live owner and is removed; one whose lock is held belongs to a live writer and is kept. Unlike a
    pid in the name there is no pid reuse, no pid-namespace or host to compare, and no clock (flock
    also works on NFS, through the lock manager). Only names of `final`'s own writers are touched.
    """
    final = Path(final)
    if fcntl is None:
        return []
    pattern = _own_names(final.name)
    removed = []
    try:
        entries = list(os.scandir(final.parent))
    except FileNotFoundError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match:
            continue
        path = final.parent / entry.name
        if match.group(1) == _STARTING:
            try:
                if time.time() - entry.stat(follow_symlinks=False).st_mtime > _STARTING_STALE_S:
                    os.rmdir(path)  # empty by construction: nothing is written before it is locked
                    removed.append(path)
            except OSError:
                pass
        elif _remove_locked(path):
            removed.append(path)
    return removed


def longest_partial_name(name: str) -> str:
    """The longest hidden name `atomic_dir` or `atomic_output` may create beside `name`: a name the
    file system refuses must be found before anything is written, not halfway through."""
    return max((f".{name}.{'x' * _TOKEN_LENGTH}{kind}" for kind in (_BUILDING, _STARTING, _ASIDE)), key=len)


def _new_partial(final: Path) -> tuple[Path, int]:
    """A fresh `.name.<token>.partial` folder beside final and the descriptor holding its lock."""
    while True:
        token = _token()
        starting = final.parent / f".{final.name}.{token}{_STARTING}"
        building = final.parent / f".{final.name}.{token}{_BUILDING}"
        if os.path.lexists(building):
            continue
        try:
            os.mkdir(starting, 0o700)
        except FileExistsError:
            continue
        break
    fd = None
    try:
        starting.chmod(0o755)
        if fcntl is not None:  # locked before it carries the name a cleaner looks for
            fd = os.open(starting, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(starting, building)
    except BaseException:
        if fd is not None:
            os.close(fd)
        shutil.rmtree(starting, ignore_errors=True)
        raise
    return building, fd


def _swap_in(tmp: Path, final: Path) -> list[Path]:
    """Rename tmp to final, moving whatever is at final aside first; return the asides.

    Safe with other finishers of the same final at the same time: each move is one rename, a
    finisher that loses a race (final appeared again, or vanished under its own move) tries again,
    so final is always one writer's complete output (or, for an instant, absent), never a mix.
    """
    asides = []
    for _ in range(_SWAP_RETRIES):
        try:
            os.rename(tmp, final)  # replaces nothing but an empty folder
            return asides
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise
        aside = final.parent / f".{final.name}.{_token()}{_ASIDE}"
        try:
            os.rename(final, aside)
        except FileNotFoundError:  # another finisher moved it first
            continue
        except OSError as error:
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):  # the unlikely taken aside name
                raise
            continue
        asides.append(aside)
    raise RuntimeError(f"could not move {tmp} into place at {final}: {_SWAP_RETRIES} races lost")


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Build a folder beside its final place; rename it into place only if the block succeeds.

    The folder is a hidden `.<name>.<token>.partial` beside final; a failing block deletes it and an
    interrupted stage leaves it, never a complete-looking final. On entry, what dead writers of
    this same final left is removed (see `remove_stale_partials`: the live writer holds an flock on
    its folder, so a concurrent writer's folder is never taken for stale). On success the folder
    replaces final whole: the old output is renamed aside to a hidden `.<name>.<token>.partial-old`
    and deleted after the new one is in place, and several writers finishing at once each succeed
    (the last rename wins), with final always one complete output and nothing partial left.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    tmp, fd = _new_partial(final)
    try:
        try:
            yield tmp
            asides = _swap_in(tmp, final)
        except BaseException:
            if os.path.lexists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        if fd is not None:
            os.close(fd)  # in place, or deleted: the lock has done its job
    for aside in asides:  # another finisher of the same output may still hold its lock, briefly
        if not _remove_locked(aside, wait_s=_ASIDE_LOCK_WAIT_S) and os.path.lexists(aside):
            log.warning("left %s for the next run to remove", aside)


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path`, on failure it vanishes.

    Readers see the old file or the whole new one, never half a file that looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_file_set(folder: str | Path, names: Sequence[str], last: str) -> Iterator[Path]:
    """Write a set of files that belong together into a folder shared with other files (a run's
    eval/): yields a hidden staging folder beside them; on success the old `last` (the file that
    says the set is complete) is removed first, every other name moved in, `last` moved in at the
    end, so the folder holds the new set whole or a set without `last`, never a mix that looks
    complete. On failure (a full disk is the usual one: renames need no space) the old set stays."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{last}.", suffix=_BUILDING, dir=folder))
    try:
        yield staging
        missing = [name for name in (*names, last) if not (staging / name).is_file()]
        if missing:
            raise RuntimeError(f"{folder}: the set lacks {missing}; nothing replaced")
        (folder / last).unlink(missing_ok=True)
        for name in names:
            os.replace(staging / name, folder / name)
        os.replace(staging / last, folder / last)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def json_value(value):
    """A table cell as strict JSON takes it: numpy scalars as Python numbers, NaN as None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def write_json(path: str | Path, payload: dict) -> Path:
    """Strict JSON (NaN is refused, not written as a non-standard token), indented, atomically."""
    return write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Deterministic CSV (fixed header, '\\n' line ends) written atomically."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())


def save_figure(fig, path: str | Path, *, dpi: int = 120) -> Path:
    """A matplotlib figure as PNG, atomically (see `atomic_output`), without software-version
    metadata, so the same figure gives the same bytes."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    return Path(path)


def link_or_copy(source: str | Path, target: str | Path) -> None:
    """The same bytes under a new name: a hard link (a metadata write, not a data copy), a copy
    across file systems. Safe on inputs too: nothing here writes into an existing file (outputs
    are built in fresh folders and replaced whole), and DVC gives each output its own file when
    it caches it."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def inside(path: str | Path, folder: str | Path) -> bool:
    """Whether path, once resolved, stays within folder (no `..` or absolute escapes)."""
    return Path(folder).resolve() in (Path(path).resolve(), *Path(path).resolve().parents)


def break_links(folder: str | Path) -> list[Path]:
    """Give every file under `folder` that shares its bytes with another name (a hard link: DVC's
    cache with `cache.type` hardlink, or a folder view) a private copy, so a tool that rewrites a
    file in place (a resumed training run's last.ckpt) can never change the other name's bytes.
    The files it copied."""
    copied = []
    for path in sorted(Path(folder).rglob("*")):
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
            continue
        with atomic_output(path) as tmp:
            shutil.copyfile(path, tmp)
        os.chmod(path, stat.S_IMODE(info.st_mode) | stat.S_IWUSR)  # DVC leaves linked files read-only
        copied.append(path)
    return copied
