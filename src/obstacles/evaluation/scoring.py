"""Score one split of the merged dataset: a plain no-grad loop over the training pipeline's dataset.

The rows are checked before any image is decoded (an empty split, or one with a single class,
cannot give AUROC or recall/specificity), so a bad dataset fails in seconds, not after scoring.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from obstacles.data.dataset import PairDataset, check_image_files, read_manifest
from obstacles.io.predictions import PREDICTION_COLUMNS
from obstacles.lineage.names import DEPLOYED_SCORE, NO_OBSTACLE, OBSTACLE
from obstacles.metrics import validate_predictions
from obstacles.models import ObstacleClassifier


def split_rows(manifest: Path, split: str, root: Path) -> pd.DataFrame:
    """The manifest rows of `split` (with `is_obstacle`), or a ValueError saying why they cannot be evaluated."""
    if not manifest.is_file():
        raise FileNotFoundError(
            f"no manifest at {manifest} (build it with `dvc repro`, fetch it with `dvc pull`, or set dataset.name=)"
        )
    try:
        frame = read_manifest(manifest, root)
    except ValueError as error:
        raise ValueError(f"manifest {manifest}: {error}") from error
    rows = frame[frame["split"] == split].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"manifest {manifest} has no rows with split={split!r}")
    try:
        validate_predictions(np.zeros(len(rows)), rows["is_obstacle"].to_numpy(), require_both_classes=True)
    except ValueError as error:
        raise ValueError(f"cannot evaluate split {split!r} of {manifest}: {error}") from error
    check_image_files(rows, manifest)
    return rows


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def score_loader(
    model: ObstacleClassifier, loader, device: torch.device, *, progress: bool = False, total: int | None = None
) -> np.ndarray:
    """Sigmoid scores (`predict_step`) for every batch of the loader, in loader order."""
    model.eval().to(device)
    scores = []
    with torch.inference_mode(), tqdm(total=total, unit="img", desc="scoring", disable=not progress) as bar:
        for index, batch in enumerate(loader):
            images = batch["image"].to(device, non_blocking=True)
            scores.append(model.predict_step({"image": images}, index).cpu())
            bar.update(len(images))
    return torch.cat(scores).double().numpy() if scores else np.empty(0)


def score_rows(
    model: ObstacleClassifier,
    rows: pd.DataFrame,
    *,
    panels: int,
    with_diff_mask: bool,
    panel_size: int | None,
    batch_size: int,
    num_workers: int,
    device: torch.device,
    progress: bool,
) -> pd.DataFrame:
    """Predictions `path,site,label,score` for the rows; a NaN/inf score names its image.

    Plus `deployed_score` when the manifest has it (the deployed model's score of each pair's source
    frame, empty for reversed copies), so the champion comparison joins both models on the same rows.
    """
    dataset = PairDataset(rows, panels=panels, with_diff_mask=with_diff_mask, panel_size=panel_size)
    loader = DataLoader(
        dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False, pin_memory=device.type == "cuda"
    )
    scores = score_loader(model, loader, device, progress=progress, total=len(dataset))
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise ValueError(f"the model gave {bad.size} NaN/inf score(s), first for {rows['path'].iat[bad[0]]}")
    labels = np.where(rows["is_obstacle"].to_numpy(), OBSTACLE, NO_OBSTACLE)
    columns = dict(zip(PREDICTION_COLUMNS, (rows["path"], rows["site"].astype(str), labels, scores)))
    if DEPLOYED_SCORE in rows.columns:
        columns[DEPLOYED_SCORE] = pd.to_numeric(rows[DEPLOYED_SCORE], errors="raise")
    return pd.DataFrame(columns, columns=list(columns))
