"""no_mask_train: drop the mask panel and add reversed images (one decode, one encode each).

The decode also yields each pair's diff histogram (`diff_histograms.npy`), so diff_metrics gets
the changed-pixel fraction at any pixel threshold without decoding the pair a second time.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.images import BadImage, decode_image, encode_jpeg, split_panels
from obstacles.io.outputs import atomic_dir
from obstacles.io.parallel import parallel_map
from obstacles.labels import NO_OBSTACLE, OBSTACLE
from obstacles.stages.common import bad_inputs, site_dir, site_name
from obstacles.stages.select import OPPOSITE_DIR, PICKS_NAME, SKIP
from obstacles.weights.curve import DIFF_LEVELS, diff_histogram

PAIR_SUFFIX = ".jpg"
HISTOGRAMS_NAME = "diff_histograms.npy"


def to_pair(image: np.ndarray, n_panels: int, reverse: bool) -> np.ndarray:
    """[reference | current] (or [current | reference] when reversed) without the mask panel."""
    reference, current = split_panels(image, n_panels)[:2]
    return np.hstack((current, reference) if reverse else (reference, current))


Target = tuple[str, str, bool]  # (label folder, file name, reversed)


@dataclass(frozen=True)
class Unmask:
    """What a worker needs to turn one source into its pairs (built once from the config)."""

    panels: int
    quality: int
    out: str

    def __call__(self, job: tuple[str, list[Target]]) -> np.ndarray | str:
        """Decode one source once; write each pair it yields (plain and/or reversed); its diff histogram.

        A source the decoder rejects (triage checked only its structure) writes nothing: why, instead.
        """
        source, targets = job
        try:
            image = decode_image(Path(source).read_bytes())  # bytes: the reason comes without the path
        except BadImage as exc:
            return str(exc)
        for label, name, reverse in targets:
            with open(os.path.join(self.out, label, name), "wb") as handle:
                handle.write(encode_jpeg(to_pair(image, self.panels, reverse), self.quality))
        return diff_histogram(*split_panels(image, self.panels)[:2])  # |current - reference| is the same reversed


def write_histograms(path: Path, rows: list[tuple[str, str, np.ndarray]]) -> None:
    """(image, label, counts) rows as one structured array: deterministic bytes, no pickle."""
    width = max((len(name) for name, _, _ in rows), default=1)
    table = np.zeros(len(rows), dtype=histogram_dtype(width))
    for i, (name, label, counts) in enumerate(rows):
        table[i] = (name, label, counts)
    np.save(path, table, allow_pickle=False)


def histogram_dtype(name_width: int) -> np.dtype:
    return np.dtype([("image", f"<U{name_width}"), ("label", "<U16"), ("counts", "<u4", (DIFF_LEVELS,))])


def read_histograms(path: Path) -> np.ndarray:
    """The table `write_histograms` wrote: fields image, label, counts."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: re-run no_mask_train for this site (dvc repro)")
    return np.load(path, allow_pickle=False)


def plan(mask_train: Path, suffix: str) -> list[tuple[str, list[Target]]]:
    """Per source image, the pairs to write: into its class folder and/or reversed into the opposite label."""
    with (mask_train / PICKS_NAME).open(newline="", encoding="utf-8") as handle:
        picks = list(csv.DictReader(handle))
    jobs = []
    for pick in picks:
        stem = os.path.splitext(pick["image"])[0]
        targets = []
        if pick["label"] != SKIP:
            targets.append((pick["label"], f"{stem}{PAIR_SUFFIX}", False))
        if pick["opposite_label"]:
            targets.append((pick["opposite_label"], f"{stem}{suffix}{PAIR_SUFFIX}", True))
        source_dir = pick["label"] if pick["label"] != SKIP else OPPOSITE_DIR
        jobs.append((os.path.join(mask_train, source_dir, pick["image"]), targets))
    return jobs


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    mask_train = site_dir(cfg) / "mask_train"
    bad = bad_inputs(cfg)
    with atomic_dir(site_dir(cfg) / "no_mask_train") as out:
        for label in (OBSTACLE, NO_OBSTACLE):
            (out / label).mkdir()
        jobs = plan(mask_train, cfg.unmask.reversed_suffix)
        written = Counter((label, name) for _, targets in jobs for label, name, _ in targets)
        duplicates = [name for (_, name), n in written.items() if n > 1]
        if duplicates:
            raise ValueError(f"two picks of {site} map to the same output name: {sorted(duplicates)[:5]}")
        unmask = Unmask(int(cfg.recording.panels), int(cfg.unmask.jpeg_quality), str(out))
        rows = []
        for (source, targets), result in zip(
            jobs, parallel_map(unmask, jobs, workers=cfg.workers, desc=f"no_mask_train {site}")
        ):
            if isinstance(result, str):
                bad.add(source, result)
                continue
            rows.extend((name, label, result) for label, name, _ in targets)
        write_histograms(out / HISTOGRAMS_NAME, sorted(rows, key=lambda row: (row[1], row[0])))
        bad.write(out)
    counts = Counter(label for _, label, _ in rows)
    print(f"[no_mask_train {site}] {counts[OBSTACLE]} obstacle, {counts[NO_OBSTACLE]} no_obstacle pairs")
    if bad.items:
        print(bad.summary(f"no_mask_train {site}", len(jobs) - len(bad.items)))
    return site_dir(cfg) / "no_mask_train"


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
