"""A map of the data: every pair of the merged manifest embedded by the model, projected to 2-D
(t-SNE) and clustered, with a per-cluster table that flags the regions the split or the model
does not represent.

Clusters are found in the embedding space (k-means on the unit-length features, reduced by PCA),
not on the t-SNE picture: t-SNE keeps neighbourhoods but distorts sizes and distances, so
clusters cut out of the picture would be artefacts of the projection. The picture shows them.

Per cluster: size, share of train / val / eval, mean loss, the model's error rate on val and on
eval (score above `threshold` vs the label) and the label mix. Flags:
- `absent from val` / `absent from eval`: no pair of the cluster in that split, so checkpoint
  choice or the reported metrics never look at that region;
- `error far above the rest`: on val + eval, the cluster's error rate exceeds the error rate of
  all other clusters pooled by at least `error_gap`, with at least `min_judged` pairs judged.
Pure: arrays in, tables out (`map_page` draws them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from obstacles.curation.settings import MapSettings
from obstacles.lineage.names import EVAL, SPLITS, VAL

ABSENT = "absent from {split}"
HIGH_ERROR = "error far above the rest"
JUDGED = (VAL, EVAL)  # the splits the model never trained on
DECIMALS = 4


def reduce(vectors: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """Unit-length features, PCA-reduced to at most dims (and at most rows - 1) components."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), np.finfo(np.float32).tiny)
    keep = min(dims, unit.shape[1], max(len(unit) - 1, 1))
    if keep >= unit.shape[1]:
        return unit.astype(np.float64)
    return PCA(n_components=keep, random_state=seed).fit_transform(unit)


def project(reduced: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """2-D t-SNE; the perplexity is capped below the number of points, as t-SNE requires."""
    capped = min(perplexity, max((len(reduced) - 1) / 3.0, 1.0))
    return TSNE(n_components=2, perplexity=capped, init="pca", random_state=seed).fit_transform(reduced)


def cluster(reduced: np.ndarray, k: int, seed: int) -> np.ndarray:
    return KMeans(n_clusters=min(k, len(reduced)), n_init=10, random_state=seed).fit_predict(reduced)


def errors(frame: pd.DataFrame, threshold: float) -> np.ndarray:
    return (frame["score"].to_numpy() > threshold) != frame["is_obstacle"].to_numpy().astype(bool)


def cluster_table(frame: pd.DataFrame, settings: MapSettings) -> pd.DataFrame:
    """One row per cluster (module docstring). frame: cluster, split, label, is_obstacle, score, loss."""
    wrong = errors(frame, settings.threshold)
    judged = frame["split"].isin(JUDGED).to_numpy()
    rows = []
    for c, index in sorted(frame.groupby("cluster").indices.items()):
        part, part_wrong = frame.iloc[index], wrong[index]
        row = {"cluster": int(c), "size": len(part)}
        for split in SPLITS:
            row[f"share_{split}"] = round(float((part["split"] == split).mean()), DECIMALS)
        row["mean_loss"] = round(float(part["loss"].mean()), DECIMALS)
        for split in JUDGED:
            in_split = (part["split"] == split).to_numpy()
            row[f"n_{split}"] = int(in_split.sum())
            row[f"error_{split}"] = round(float(part_wrong[in_split].mean()), DECIMALS) if in_split.any() else np.nan
        row["share_obstacle"] = round(float(part["is_obstacle"].mean()), DECIMALS)
        inside = np.zeros(len(frame), bool)
        inside[index] = True
        mine, rest = judged & inside, judged & ~inside
        flags = [ABSENT.format(split=split) for split in JUDGED if row[f"n_{split}"] == 0]
        if mine.sum() >= settings.min_judged and rest.any():
            if wrong[mine].mean() - wrong[rest].mean() >= settings.error_gap:
                flags.append(HIGH_ERROR)
        row["error_judged"] = round(float(wrong[mine].mean()), DECIMALS) if mine.any() else np.nan
        row["flags"] = "; ".join(flags)
        rows.append(row)
    return pd.DataFrame(rows)


def data_map(vectors: np.ndarray, frame: pd.DataFrame, settings: MapSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points: frame plus x, y, cluster; clusters: `cluster_table`)."""
    reduced = reduce(vectors, settings.pca_dims, settings.seed)
    xy = project(reduced, settings.perplexity, settings.seed)
    points = frame.assign(x=xy[:, 0].round(DECIMALS), y=xy[:, 1].round(DECIMALS))
    points["cluster"] = cluster(reduced, settings.clusters, settings.seed)
    return points, cluster_table(points, settings)
