"""mask_train: the reviewer's picks from labels/<site>.csv, the same bytes (linked)."""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.outputs import atomic_dir, link_or_copy, write_csv
from obstacles.io.tables import TableError, csv_rows, read_utf8
from obstacles.labels import NO_OBSTACLE, OBSTACLE
from obstacles.stages.common import site_dir, site_name
from obstacles.stages.triage import INDEX_NAME, classify, triage_classes

LABEL_HEADER = ("image", "label", "opposite_label")
SKIP = "skip"
REVERSE = "reverse"  # opposite_label meaning "the configured default class"
OPPOSITE_DIR = "opposite"
PICKS_NAME = "picks.csv"
PATH_CHARACTERS = frozenset("/\\:")  # separators and drive letters, POSIX and Windows


class LabelFileError(TableError):
    """A label file problem, always fatal: the message names the file and line."""


@dataclass(frozen=True)
class Pick:
    image: str
    label: str  # obstacle, no_obstacle or skip
    opposite_label: str  # "" or a class
    line: int = 0  # the row's own line in the label file (blank lines counted), for messages


def prefill_label(score: float, triage: DictConfig) -> str:
    """A reviewer's starting label: the deployed model's opinion (its triage class), skip when undecided."""
    return classify(score, triage_classes(triage.obstacle_above, triage.no_obstacle_at_most)).label or SKIP


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


def read_label_file(path: Path, reversed_default: str) -> list[Pick]:
    """Rows of labels/<site>.csv, validated; messages give the file's own line numbers (the header
    is line 1, blank lines count), as an editor shows them."""
    if not path.is_file():
        raise LabelFileError(f"{path}: label file not found (write it, or run obstacles.add_recording)")
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


def triaged_paths(src: Path) -> dict[str, str]:
    """Image name -> its file in the src triage (only images that passed validation)."""
    with (src / INDEX_NAME).open(newline="", encoding="utf-8") as handle:
        return {row["image"]: os.path.join(src, row["path"]) for row in csv.DictReader(handle)}


def rejected_reasons(src: Path) -> dict[str, str]:
    with (src / "bad_inputs.csv").open(newline="", encoding="utf-8") as handle:
        return {Path(row["file"]).stem: row["reason"] for row in csv.DictReader(handle)}


def usable_picks(
    picks: list[Pick], src: Path, available: dict[str, str], label_file: Path, recording_images: Path
) -> list[Pick]:
    """Picks of images triage kept. A row naming an image triage rejected (listed in its
    bad_inputs.csv) is dropped with a warning naming the row, as the review page does; a row
    naming an image the recording does not have is a typo, and an error."""
    rejected = rejected_reasons(src)
    usable = []
    for pick in picks:
        stem = Path(pick.image).stem
        if pick.image in available:
            usable.append(pick)
        elif stem in rejected:
            print(
                f"warning: {label_file}:{pick.line}: image {pick.image!r} was rejected by triage "
                f"({rejected[stem]}); row left out (see {src / 'bad_inputs.csv'})",
                file=sys.stderr,
            )
        else:
            raise LabelFileError(f"{label_file}:{pick.line}: image {pick.image!r} is not in {recording_images}")
    return usable


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    label_file = Path(cfg.paths.labels_dir) / f"{site}.csv"
    src = site_dir(cfg) / "src"
    recording_images = Path(cfg.paths.recordings_dir) / site / "images"
    available = triaged_paths(src)
    rows = read_label_file(label_file, cfg.unmask.reversed_default_label)
    picks = usable_picks(rows, src, available, label_file, recording_images)
    chosen = [p for p in picks if p.label != SKIP or p.opposite_label]
    with atomic_dir(site_dir(cfg) / "mask_train") as out:
        for folder in (OBSTACLE, NO_OBSTACLE, OPPOSITE_DIR):
            (out / folder).mkdir()
        for pick in chosen:  # plain strings: this loop runs once per labelled image
            if pick.label != SKIP:
                link_or_copy(available[pick.image], os.path.join(out, pick.label, pick.image))
            if pick.opposite_label:
                link_or_copy(available[pick.image], os.path.join(out, OPPOSITE_DIR, pick.image))
        write_csv(out / PICKS_NAME, LABEL_HEADER, [(p.image, p.label, p.opposite_label) for p in chosen])
    counts = {c: sum(p.label == c for p in picks) for c in (OBSTACLE, NO_OBSTACLE, SKIP)}
    reversals = sum(bool(p.opposite_label) for p in picks)
    print(
        f"[mask_train {site}] {counts[OBSTACLE]} obstacle, {counts[NO_OBSTACLE]} no_obstacle, "
        f"{counts[SKIP]} skipped, {reversals} to reverse"
        + (
            f"; {len(rows) - len(picks)} row(s) naming images triage rejected left out"
            if len(rows) > len(picks)
            else ""
        )
    )
    return site_dir(cfg) / "mask_train"


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
