"""no_mask_train: drop the mask panel and add reversed images (one decode, one encode each)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.images import decode_image, encode_jpeg, split_panels
from obstacles.io.outputs import atomic_dir
from obstacles.io.parallel import parallel_map
from obstacles.labels import NO_OBSTACLE, OBSTACLE
from obstacles.stages.common import site_dir, site_name
from obstacles.stages.select import OPPOSITE_DIR, PICKS_NAME, SKIP

PAIR_SUFFIX = ".jpg"


def to_pair(image: np.ndarray, n_panels: int, reverse: bool) -> np.ndarray:
    """[reference | current] (or [current | reference] when reversed) without the mask panel."""
    reference, current = split_panels(image, n_panels)[:2]
    return np.hstack((current, reference) if reverse else (reference, current))


def _convert(job: tuple[Path, list[tuple[Path, bool]], int, int]) -> None:
    """Decode one source once; write each pair it yields (plain and/or reversed)."""
    source, targets, n_panels, quality = job
    image = decode_image(source, rgb=False)  # panels are only re-arranged: channel order is irrelevant
    for target, reverse in targets:
        target.write_bytes(encode_jpeg(to_pair(image, n_panels, reverse), quality, rgb=False))


def plan(mask_train: Path, out: Path, suffix: str) -> list[tuple[Path, list[tuple[Path, bool]]]]:
    """Per source image, the pair files to write: its class folder and/or reversed into the opposite label."""
    with (mask_train / PICKS_NAME).open(newline="", encoding="utf-8") as handle:
        picks = list(csv.DictReader(handle))
    jobs = []
    for pick in picks:
        stem = Path(pick["image"]).stem
        targets = []
        if pick["label"] != SKIP:
            targets.append((out / pick["label"] / f"{stem}{PAIR_SUFFIX}", False))
        if pick["opposite_label"]:
            targets.append((out / pick["opposite_label"] / f"{stem}{suffix}{PAIR_SUFFIX}", True))
        source_dir = pick["label"] if pick["label"] != SKIP else OPPOSITE_DIR
        jobs.append((mask_train / source_dir / pick["image"], targets))
    return jobs


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    mask_train = site_dir(cfg) / "mask_train"
    with atomic_dir(site_dir(cfg) / "no_mask_train") as out:
        for label in (OBSTACLE, NO_OBSTACLE):
            (out / label).mkdir()
        jobs = plan(mask_train, out, cfg.unmask.reversed_suffix)
        written = Counter(target for _, targets in jobs for target, _ in targets)
        duplicates = [path.name for path, n in written.items() if n > 1]
        if duplicates:
            raise ValueError(f"two picks of {site} map to the same output name: {sorted(duplicates)[:5]}")
        work = [(src, targets, cfg.recording.panels, cfg.unmask.jpeg_quality) for src, targets in jobs]
        for _ in parallel_map(_convert, work, workers=cfg.workers, desc=f"no_mask_train {site}"):
            pass
    counts = {label: len(list((site_dir(cfg) / "no_mask_train" / label).iterdir())) for label in (OBSTACLE, NO_OBSTACLE)}
    print(f"[no_mask_train {site}] {counts[OBSTACLE]} obstacle, {counts[NO_OBSTACLE]} no_obstacle pairs")
    return site_dir(cfg) / "no_mask_train"


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
