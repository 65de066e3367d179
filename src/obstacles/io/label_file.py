"""The reviewer's label file, labels/<site>.csv (image, label, opposite_label): the one reader the
mask_train stage, the review page and add_recording share. Messages give the file's own line
numbers (the header is line 1, blank lines count), as an editor shows them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from obstacles.io.tables import TableError, csv_rows, read_utf8
from obstacles.lineage.names import LABEL_HEADER, NO_OBSTACLE, OBSTACLE, REVERSE, SKIP

PATH_CHARACTERS = frozenset("/\\:")  # separators and drive letters, POSIX and Windows


class LabelFileError(TableError):
    """A label file problem, always fatal: the message names the file and line."""


@dataclass(frozen=True)
class Pick:
    image: str
    label: str  # obstacle, no_obstacle or skip
    opposite_label: str  # "" or a class
    line: int = 0  # the row's own line in the label file (blank lines counted), for messages


def _image_name(raw: str, where: str) -> str:
    """A plain file name inside the recording's images/ folder; anything else is refused."""
    name = raw.strip()
    if not name:
        raise LabelFileError(f"{where}: empty image name")
    if not PATH_CHARACTERS.intersection(name) and name != "..":
        return name  # a plain file name: the common case, no path parsing needed
    parts = PurePosixPath(name).parts + PureWindowsPath(name).parts
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or ".." in parts:
        raise LabelFileError(f"{where}: image {name!r} is a path outside the recording")
    if len(PurePosixPath(name).parts) > 1 or "\\" in name:
        raise LabelFileError(f"{where}: image {name!r} must be a file name inside images/, not a path")
    return name


def label_name_problem(name: str) -> str | None:
    """Why a file name cannot be a row of a label file as it is (None when it can): `read_label_file`
    would refuse it, or read it back as another name (leading or trailing white space, U+2028
    included, is stripped), or it is not UTF-8 text. add_recording never pre-fills such a row."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not UTF-8 text; rename it"
    if name.strip() != name:
        return "file name starts or ends with white space, which the label file drops; rename it"
    try:
        _image_name(name, "")
    except LabelFileError as exc:
        return f"{str(exc).removeprefix(': ')}; rename it"
    return None


def read_label_file(path: Path, reversed_default: str) -> list[Pick]:
    """Rows of labels/<site>.csv, validated; messages give the file's own line numbers (the header
    is line 1, blank lines count), as an editor shows them."""
    if not path.is_file():
        raise LabelFileError(f"{path}: label file not found (write it, or run obstacles.commands.add_recording)")
    try:
        rows = csv_rows(read_utf8(path))
    except TableError as exc:
        raise LabelFileError(str(exc)) from None
    header = tuple(field.strip() for field in rows[0][1]) if rows else ()
    if header[:2] != LABEL_HEADER[:2] or not set(header) <= set(LABEL_HEADER):
        raise LabelFileError(f"{path}:1: header must be {','.join(LABEL_HEADER)} (got {','.join(header)})")
    picks, seen = [], {}
    for line, fields in rows[1:]:
        where = f"{path}:{line}"
        if len(fields) != len(header):
            raise LabelFileError(f"{where}: expected {len(header)} fields ({','.join(header)}), got {len(fields)}")
        row = dict(zip(header, fields))
        image = _image_name(row["image"], where)
        if image in seen:
            raise LabelFileError(f"{where}: image {image!r} already labelled on line {seen[image]}")
        seen[image] = line
        label = row["label"].strip()
        if label not in (OBSTACLE, NO_OBSTACLE, SKIP):
            raise LabelFileError(f"{where}: unknown label {label!r} (use {OBSTACLE}, {NO_OBSTACLE} or {SKIP})")
        opposite = (row.get("opposite_label") or "").strip()
        opposite = reversed_default if opposite == REVERSE else opposite
        if opposite not in ("", OBSTACLE, NO_OBSTACLE):
            raise LabelFileError(
                f"{where}: unknown opposite_label {opposite!r} (empty, {OBSTACLE}, {NO_OBSTACLE} or {REVERSE})"
            )
        picks.append(Pick(image, label, opposite, line))
    return picks
