"""mask_train: the reviewer's picks from labels/<site>.csv, as a manifest over the recording's files
(`mask_train.csv`: image, path, sha256, label, opposite_label, deployed_score: the src index's score);
no image is copied."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig

from obstacles.infra.config import entry_point
from obstacles.io.label_file import LabelFileError, Pick, read_label_file
from obstacles.io.manifests import read_rows
from obstacles.io.outputs import write_csv
from obstacles.lineage.names import (
    BAD_INPUTS_NAME,
    INDEX_COLUMNS,
    INDEX_NAME,
    MASK_TRAIN_COLUMNS,
    MASK_TRAIN_TABLE,
    NO_OBSTACLE,
    OBSTACLE,
    SKIP,
    SRC_DIR,
)
from obstacles.lineage.settings import site_dir, site_name


def triaged(src: Path) -> dict[str, dict[str, str]]:
    """Image name -> its src index row (only images that passed validation)."""
    return {row["image"]: row for _, row in read_rows(src / INDEX_NAME, INDEX_COLUMNS)}


def rejected_reasons(src: Path) -> dict[str, str]:
    return {Path(row["file"]).stem: row["reason"] for _, row in read_rows(src / BAD_INPUTS_NAME, ("file", "reason"))}


def usable_picks(
    picks: list[Pick], src: Path, available: dict[str, dict], label_file: Path, recording_images: Path
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
                f"({rejected[stem]}); row left out (see {src / BAD_INPUTS_NAME})",
                file=sys.stderr,
            )
        else:
            raise LabelFileError(f"{label_file}:{pick.line}: image {pick.image!r} is not in {recording_images}")
    return usable


def picked_row(pick: Pick, indexed: dict[str, str]) -> tuple[str, ...]:
    """One MASK_TRAIN_COLUMNS row: the pick, where its frame is, and the deployed score triage read."""
    return (pick.image, indexed["path"], indexed["sha256"], pick.label, pick.opposite_label, indexed["score"])


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    label_file = Path(cfg.paths.labels_dir) / f"{site}.csv"
    src = site_dir(cfg) / SRC_DIR
    recording_images = Path(cfg.paths.recordings_dir) / site / "images"
    available = triaged(src)
    rows = read_label_file(label_file, cfg.mask_train.reversed_default_label)
    picks = usable_picks(rows, src, available, label_file, recording_images)
    chosen = [p for p in picks if p.label != SKIP or p.opposite_label]
    target = write_csv(
        site_dir(cfg) / MASK_TRAIN_TABLE,
        MASK_TRAIN_COLUMNS,
        [picked_row(p, available[p.image]) for p in chosen],
    )
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
    return target


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
