"""mask_train: the reviewer's picks from labels/<site>.csv, the same bytes (linked)."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.outputs import atomic_dir, link_or_copy, write_csv
from obstacles.labels import NO_OBSTACLE, OBSTACLE
from obstacles.stages.common import site_dir, site_name
from obstacles.stages.triage import INDEX_NAME

LABEL_HEADER = ("image", "label", "opposite_label")
SKIP = "skip"
REVERSE = "reverse"  # opposite_label meaning "the configured default class"
OPPOSITE_DIR = "opposite"
PICKS_NAME = "picks.csv"
PATH_CHARACTERS = frozenset("/\\:")  # separators and drive letters, POSIX and Windows


class LabelFileError(ValueError):
    """A label file problem, always fatal: the message names the file and line."""


@dataclass(frozen=True)
class Pick:
    image: str
    label: str  # obstacle, no_obstacle or skip
    opposite_label: str  # "" or a class


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
    """Rows of labels/<site>.csv, validated; line numbers count the header as line 1."""
    if not path.is_file():
        raise LabelFileError(f"{path}: label file not found (write it, or run obstacles.add_recording)")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = tuple(reader.fieldnames or ())
        if header[:2] != LABEL_HEADER[:2] or not set(header) <= set(LABEL_HEADER):
            raise LabelFileError(f"{path}:1: header must be {','.join(LABEL_HEADER)} (got {','.join(header)})")
        picks, seen = [], {}
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            if None in row or any(v is None for v in row.values()):
                raise LabelFileError(f"{where}: expected {len(header)} fields")
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
            picks.append(Pick(image, label, opposite))
    return picks


def triaged_paths(src: Path) -> dict[str, str]:
    """Image name -> its file in the src triage (only images that passed validation)."""
    with (src / INDEX_NAME).open(newline="", encoding="utf-8") as handle:
        return {row["image"]: os.path.join(src, row["path"]) for row in csv.DictReader(handle)}


def rejected_reasons(src: Path) -> dict[str, str]:
    with (src / "bad_inputs.csv").open(newline="", encoding="utf-8") as handle:
        return {Path(row["file"]).stem: row["reason"] for row in csv.DictReader(handle)}


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    label_file = Path(cfg.paths.labels_dir) / f"{site}.csv"
    picks = read_label_file(label_file, cfg.unmask.reversed_default_label)
    src = site_dir(cfg) / "src"
    available, rejected = triaged_paths(src), rejected_reasons(src)
    recording_images = Path(cfg.paths.recordings_dir) / site / "images"
    for line, pick in enumerate(picks, start=2):
        if pick.image not in available:
            why = (
                f"was rejected by triage ({rejected[Path(pick.image).stem]})"
                if Path(pick.image).stem in rejected
                else f"is not in {recording_images}"
            )
            raise LabelFileError(f"{label_file}:{line}: image {pick.image!r} {why}")
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
    print(f"[mask_train {site}] {counts[OBSTACLE]} obstacle, {counts[NO_OBSTACLE]} no_obstacle, "
          f"{counts[SKIP]} skipped, {reversals} to reverse")
    return site_dir(cfg) / "mask_train"


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
