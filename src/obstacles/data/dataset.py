"""The manifest of a balanced dataset and the per-sample tensors the model reads.

Input normalisation: reference and current RGB are scaled to [0, 1] (uint8 / 255) and
stacked as 6 channels (reference R, G, B, current R, G, B); the optional 7th channel is the
0/1 diff mask of the pair (computed with the site's pixel_threshold, before augmentation).
`panel_size` resizes each panel first (area interpolation), e.g. for short CPU runs.
No mean/std normalisation: backbones train from scratch (no pretrained statistics to
match) and start with batch norm, and the field's CNN was trained on [0, 1] inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from obstacles.data.augment import PairTransform
from obstacles.io.images import read_pair, resize_panel
from obstacles.io.manifests import ManifestError, check_relative, resolve
from obstacles.io.tables import data_line, read_utf8
from obstacles.lineage.names import MANIFEST_COLUMNS, PAIR_CHANNELS, SPLITS, to_is_obstacle
from obstacles.weights.curve import diff_mask

SHOWN_MISSING = 5  # file names quoted when a manifest's images are missing
FILE_COLUMN = "file"  # added on read: the image's file, `path` resolved under the project root


def read_manifest(path: str | Path, root: str | Path) -> pd.DataFrame:
    """The manifest as a table with each image's `file` (its `path`, relative to the project root
    `root`, resolved); missing columns, unknown splits/labels and paths leaving the project are
    errors naming the file and line."""
    frame = pd.read_csv(path, dtype={"path": str, "sha256": str})
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"manifest {path} lacks columns {missing}")
    unknown = sorted(set(frame["split"]) - set(SPLITS))
    if unknown:
        raise ValueError(f"manifest {path}: unknown split(s) {unknown}, expected {SPLITS}")
    relative = frame["path"].fillna("").tolist()
    for record, value in enumerate(relative):
        try:
            check_relative(value, str(path))
        except ManifestError:
            check_relative(value, f"{path}:{data_line(read_utf8(path), record)}")  # again, naming the line
    frame[FILE_COLUMN] = [resolve(root, value) for value in relative]
    frame["is_obstacle"] = to_is_obstacle(frame["label"])
    return frame


def require_manifest(manifest: str | Path, dataset_dir: str | Path) -> Path:
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(
            f"dataset {Path(dataset_dir).name!r}: no manifest at {manifest} "
            "(build it with `dvc repro`, fetch it with `dvc pull`, or set dataset.name)"
        )
    return manifest


def check_image_files(rows: pd.DataFrame, manifest: str | Path) -> None:
    """Every image the rows (as `read_manifest` gives them) name exists and is non-empty, checked
    before the first step: a run must not train for minutes and die at batch 24 (or, with few
    batches, exit 0) on a lost file. Messages name the manifest's own paths."""
    bad = []
    for path, file in zip(rows["path"], rows[FILE_COLUMN]):  # one stat per image: milliseconds for 24,000
        try:
            if os.stat(file).st_size == 0:
                bad.append(f"{path} (empty)")
        except OSError:
            bad.append(f"{path} (missing)")
    if bad:
        raise FileNotFoundError(
            f"manifest {manifest}: {len(bad)} of {len(rows)} image file(s) are missing or "
            f"empty, first {bad[:SHOWN_MISSING]}; restore them (`dvc pull`, or `dvc repro` to rebuild)"
        )


def to_tensor(reference: np.ndarray, current: np.ndarray, mask: np.ndarray | None) -> torch.Tensor:
    """(C, H, W) float32 in [0, 1]: reference RGB, current RGB(, mask)."""
    planes = [reference, current] if mask is None else [reference, current, mask[..., None]]
    stacked = np.concatenate(planes, axis=2).astype(np.float32)
    stacked[..., :PAIR_CHANNELS] /= 255.0
    return torch.from_numpy(stacked).permute(2, 0, 1).contiguous()


class PairDataset(Dataset):
    """Manifest rows of one split (as `read_manifest` gives them) -> {"image", "target", "weight"};
    `weight` feeds the loss."""

    def __init__(
        self,
        rows: pd.DataFrame,
        *,
        panels: int = 2,
        with_diff_mask: bool = False,
        panel_size: int | None = None,
        loss_weights: np.ndarray | None = None,
        transform: PairTransform | None = None,
    ):
        self.rows = rows.reset_index(drop=True)
        self.panels = panels
        self.with_diff_mask = with_diff_mask
        self.panel_size = panel_size
        self.targets = self.rows["is_obstacle"].to_numpy(dtype=np.float32)
        ones = np.ones(len(self.rows))
        self.loss_weights = np.asarray(ones if loss_weights is None else loss_weights, dtype=np.float32)
        self.transform = transform

    @property
    def channels(self) -> int:
        return PAIR_CHANNELS + int(self.with_diff_mask)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = self.rows.iloc[index]
        reference, current = (resize_panel(p, self.panel_size) for p in read_pair(row[FILE_COLUMN], self.panels))
        mask = diff_mask(reference, current, row["pixel_threshold"]).astype(np.uint8) if self.with_diff_mask else None
        if self.transform is not None:
            reference, current, mask = self.transform(reference, current, mask)
        return {
            "image": to_tensor(reference, current, mask),
            "target": torch.tensor(self.targets[index]),
            "weight": torch.tensor(self.loss_weights[index]),
        }
