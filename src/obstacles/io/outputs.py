"""Stage outputs that appear under their final name only when complete."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence


@contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Build a folder beside its final place; rename it into place only if the block succeeds.

    An interrupted stage leaves a hidden `.name.*.partial` folder, never a complete-looking one.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():  # this stage's own previous output
        shutil.rmtree(final) if final.is_dir() else final.unlink()
    os.replace(tmp, final)


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


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Deterministic CSV (fixed header, '\\n' line ends) written atomically."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text_atomic(path, buffer.getvalue())


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
