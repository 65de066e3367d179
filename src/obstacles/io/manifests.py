"""Reading the lineage's manifests: tables whose `path` column names a file relative to the project
root (DESIGN 2: selections are lists, not copies). One reader for every stage and tool, so a path
that would leave the project, a missing column or a malformed row is named with file and line."""

from __future__ import annotations

import functools
import os
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd

from obstacles.io.tables import TableError, csv_rows, read_utf8

PATH_COLUMN = "path"


class ManifestError(TableError):
    """A manifest that cannot be used; the message starts with `<file>:<line>:`."""


def project_relative(path: str | Path, root: str | Path) -> str:
    """`path` as the manifests spell it: relative to the project root, forward slashes. A path
    outside the root cannot be spelled so (set paths.datasets_dir and paths.data_dir inside it)."""
    relative = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(root))).as_posix()
    if relative == ".." or relative.startswith("../"):
        raise ValueError(
            f"{path} is outside the project root {root}: manifests name files relative to it, so "
            "paths.data_dir and paths.datasets_dir must lie inside paths.root_dir"
        )
    return relative


def check_relative(relative: str, where: str, root: str | Path | None = None) -> str:
    """A path inside the project, as stored: refused when absolute or climbing out with `..`; with
    `root`, also when a symbolic link on the way (a file or a folder inside the project) points out
    of it, since every reader then opens, hashes, trains on or links the outside file as ours."""
    if not relative:
        raise ManifestError(f"{where}: empty path")
    if (
        PurePosixPath(relative).is_absolute()
        or PureWindowsPath(relative).is_absolute()
        or PureWindowsPath(relative).drive
        or ".." in PurePosixPath(relative.replace("\\", "/")).parts
    ):
        raise ManifestError(f"{where}: path {relative!r} leaves the project (absolute, or with '..')")
    if root is not None:
        real = os.path.realpath(os.path.join(os.fspath(root), relative))
        top = _real_root(os.fspath(root))
        if os.path.commonpath([real, top]) != top:
            raise ManifestError(
                f"{where}: path {relative!r} is a symbolic link (or lies under one) that leaves the project, "
                f"to {real}; copy the file into the project instead"
            )
    return relative


@functools.lru_cache(maxsize=8)
def _real_root(root: str) -> str:
    return os.path.realpath(root)


def read_rows(path: str | Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of every record, with at least `columns`; every `path` checked to stay inside
    the project. Plain strings: this runs once per image of a site."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the stage that writes it first (dvc repro)")
    rows = csv_rows(read_utf8(path))
    if not rows:
        raise ManifestError(f"{path}:1: empty file, expected a header {','.join(columns)}")
    header = [field.strip() for field in rows[0][1]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ManifestError(f"{path}:1: header lacks column(s) {','.join(missing)} (got {','.join(header)})")
    records = []
    for line, fields in rows[1:]:
        if len(fields) != len(header):
            raise ManifestError(f"{path}:{line}: expected {len(header)} fields ({','.join(header)}), got {len(fields)}")
        row = dict(zip(header, fields))
        if PATH_COLUMN in row:
            check_relative(row[PATH_COLUMN], f"{path}:{line}")
        records.append((line, row))
    return records


def resolve(root: str | Path, relative: str, where: str | None = None) -> str:
    """The file a manifest path names, under the project root; refused (naming `where`, else the
    path) when it is a link leaving the project. Every reader opens images through here."""
    check_relative(relative, where or relative, root)
    return os.path.join(os.fspath(root), relative)


def deployed_scores(column: pd.Series, where: str) -> pd.Series:
    """A table's deployed_score column (its rows in file order) as floats in [0, 1], NaN where empty
    (a pair the deployed model never scored, e.g. a reversed copy); anything else is an error naming
    the file and line."""
    empty = column.isna() | (column.astype(str).str.strip() == "")
    values = pd.to_numeric(column.where(~empty), errors="coerce").astype(np.float64)
    bad = np.flatnonzero((~empty & ~values.between(0.0, 1.0)).to_numpy())
    if len(bad):
        raise TableError(
            f"{where}, line {int(bad[0]) + 2}: deployed_score {column.iat[int(bad[0])]!r} is not a score in [0, 1]"
        )
    return values
