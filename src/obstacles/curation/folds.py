"""Group-aware folds of a manifest's training split, for out-of-fold scores (`label_issues`).

A model's loss on its own training images cannot see a memorised wrong label, so every training
pair must be scored by a model that never saw it. Frames of one burst (and an image's reversed
copy) are near-identical: if they straddled folds, the held-out frame's twin would be in the
training folds and its score would be in-sample after all. Folds are therefore whole burst groups
(`stages.split.burst_groups`, per site, the same grouping the train/val/eval split uses),
stratified by label (scikit-learn's StratifiedGroupKFold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from obstacles.lineage.names import EVAL, TRAIN, VAL
from obstacles.lineage.splitting import burst_groups

FOLD_SCORED = EVAL  # the held-out fold's split name in a fold manifest: training never reads it


def capture_groups(frame: pd.DataFrame, gap_s: float, reversed_suffix: str) -> np.ndarray:
    """One group id per row: the row's burst within its site (sites never share a group)."""
    groups = np.zeros(len(frame), dtype=np.int64)
    offset = 0
    positions = np.arange(len(frame))
    for _, index in frame.groupby("site", sort=True).indices.items():
        stems = [p.rsplit("/", 1)[-1].rsplit(".", 1)[0] for p in frame["path"].to_numpy()[index]]
        local = burst_groups(stems, gap_s, reversed_suffix)
        groups[positions[index]] = local + offset
        offset += int(local.max()) + 1 if len(local) else 0
    return groups


def assign_folds(labels: np.ndarray, groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold number (0..k-1) per row: whole groups, each fold about 1/k of every class."""
    n_groups = len(np.unique(groups))
    if k < 2:
        raise ValueError(f"folds must be at least 2, got {k}")
    if n_groups < k:
        raise ValueError(f"{n_groups} capture group(s) in the training split: too few for {k} folds")
    folds = np.full(len(labels), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for fold, (_, held) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
        folds[held] = fold
    return folds


def fold_manifest(frame: pd.DataFrame, train_folds: np.ndarray, fold: int) -> pd.DataFrame:
    """The manifest one fold's model trains on: the other folds as train, the dataset's own val as
    val (so checkpoint choice never looks at the held-out fold; a dataset without val validates on
    its eval split instead), the held-out fold as `FOLD_SCORED`. `train_folds` is the fold of each
    train row, in order; other splits are not in any fold."""
    is_train = (frame["split"] == TRAIN).to_numpy()
    validation = VAL if (frame["split"] == VAL).any() else EVAL
    split = np.full(len(frame), "", dtype=object)
    split[(frame["split"] == validation).to_numpy()] = VAL
    train_index = np.flatnonzero(is_train)
    split[train_index[train_folds != fold]] = TRAIN
    split[train_index[train_folds == fold]] = FOLD_SCORED
    return frame.assign(split=split)[split != ""].reset_index(drop=True)
