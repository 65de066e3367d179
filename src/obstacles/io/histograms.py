"""The per-pair diff histograms no_mask_train stores while it has the pixels decoded (pixel count
per max-channel difference 0..255), so diff_metrics can apply any pixel threshold without a decode."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from obstacles.weights.curve import DIFF_LEVELS


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
