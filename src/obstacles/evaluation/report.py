"""Metric tables, curve tables and figures of one evaluation (DESIGN section 4), and their files.

All numbers come from `obstacles.metrics` (predicted obstacle iff score > t); this module only
arranges them per threshold and per site and writes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from obstacles.io.outputs import save_figure, write_json, write_text_atomic
from obstacles.lineage.names import OBSTACLE
from obstacles.metrics import confusion_matrix, summary_metrics, threshold_metrics
from obstacles.plots import confusion_matrix_figure, roc_pr_figure
from obstacles.runs.layout import METRICS_FILE, METRICS_PROVENANCE_FILE, PREDICTIONS_FILE

THRESHOLD_FILE = "threshold_metrics.csv"
PER_SITE_FILE = "per_site.csv"
ROC_FILE = "roc.csv"
PR_FILE = "pr.csv"
FIGURES_DIR = "figures"
ROC_PR_FIGURE = "roc_pr.png"
SUMMARY_KEYS = ("auroc", "average_precision", "specificity_at_sensitivity")
TAG_DECIMALS = 2  # t0.50; a threshold with more decimals keeps them all (t0.325)


def threshold_tag(threshold: float) -> str:
    """A file-name-safe, unique label for a threshold: `t0.50`."""
    short = f"{threshold:.{TAG_DECIMALS}f}"
    return f"t{short}" if float(short) == threshold else f"t{threshold!r}"


def check_thresholds(thresholds) -> list[float]:
    values = [float(t) for t in thresholds]
    if not values or any(not math.isfinite(t) for t in values) or len(set(values)) != len(values):
        raise ValueError(f"eval.thresholds must be distinct finite numbers, got {list(thresholds)}")
    return values


def confusion_file(threshold: float) -> str:
    return f"{FIGURES_DIR}/confusion_{threshold_tag(threshold)}.png"


@dataclass(frozen=True)
class Tables:
    """Everything computed from the predictions, before anything is written."""

    summary: dict
    per_threshold: pd.DataFrame
    per_site: pd.DataFrame
    roc: pd.DataFrame
    pr: pd.DataFrame


def site_rows(site: str, frame: pd.DataFrame, thresholds: list[float], sensitivity: float) -> pd.DataFrame:
    """One site's rows per threshold; threshold-free metrics only where both classes exist."""
    table = threshold_metrics(frame["score"], frame["label"], thresholds)
    n_obstacle = int((table.tp + table.fn).iat[0])
    extra = {"site": site, "n": len(frame), "n_obstacle": n_obstacle, "n_no_obstacle": len(frame) - n_obstacle}
    both = 0 < n_obstacle < len(frame)
    summary = summary_metrics(frame["score"], frame["label"], sensitivity=sensitivity) if both else {}
    extra.update({key: summary.get(key, np.nan) for key in SUMMARY_KEYS})
    return table.assign(**extra)


def per_site_table(predictions: pd.DataFrame, thresholds: list[float], sensitivity: float) -> pd.DataFrame:
    parts = [site_rows(site, frame, thresholds, sensitivity) for site, frame in predictions.groupby("site", sort=True)]
    table = pd.concat(parts, ignore_index=True)
    first = ["site", "n", "n_obstacle", "n_no_obstacle", *SUMMARY_KEYS]
    return table[first + [c for c in table.columns if c not in first]]


def curve_tables(predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ROC (fpr, tpr) and PR (recall, precision) points, the same curves as `roc_pr_figure` draws."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    is_obstacle = predictions["label"].to_numpy() == OBSTACLE
    scores = predictions["score"].to_numpy()
    fpr, tpr, roc_thresholds = roc_curve(is_obstacle, scores)
    precision, recall, pr_thresholds = precision_recall_curve(is_obstacle, scores)
    roc = pd.DataFrame({"threshold": roc_thresholds, "fpr": fpr, "tpr": tpr})
    pr = pd.DataFrame({"threshold": np.append(pr_thresholds, np.nan), "recall": recall, "precision": precision})
    return roc.replace([np.inf, -np.inf], np.nan), pr


def compute_tables(predictions: pd.DataFrame, thresholds: list[float], sensitivity: float) -> Tables:
    scores, labels = predictions["score"], predictions["label"]
    roc, pr = curve_tables(predictions)
    return Tables(
        summary=summary_metrics(scores, labels, sensitivity=sensitivity),
        per_threshold=threshold_metrics(scores, labels, thresholds),
        per_site=per_site_table(predictions, thresholds, sensitivity),
        roc=roc,
        pr=pr,
    )


def json_number(value):
    """numpy scalars as plain Python numbers (json cannot write them)."""
    return value.item() if isinstance(value, np.generic) else value


def metrics_payload(tables: Tables) -> dict:
    """metrics.json: the summary, then one entry per threshold; numbers only (provenance, the
    strings, goes to METRICS_PROVENANCE_FILE), so DVC's tables show what runs are compared by."""
    at_threshold = {
        threshold_tag(row["threshold"]): {k: json_number(v) for k, v in row.items()}
        for row in tables.per_threshold.to_dict("records")
    }
    return {**tables.summary, "thresholds": at_threshold}


def write_csv_table(path: Path, table: pd.DataFrame) -> Path:
    return write_text_atomic(path, table.to_csv(index=False, lineterminator="\n"))


def write_figures(folder: Path, predictions: pd.DataFrame, thresholds: list[float], title: str) -> None:
    scores, labels = predictions["score"], predictions["label"]
    for threshold in thresholds:
        counts = confusion_matrix(scores, labels, threshold)
        figure = confusion_matrix_figure(counts, title=f"obstacle iff score > {threshold:g}")
        save_figure(figure, folder / confusion_file(threshold))
    save_figure(roc_pr_figure(scores, labels, title=title), folder / FIGURES_DIR / ROC_PR_FIGURE)


def write_report(
    folder: Path, predictions: pd.DataFrame, tables: Tables, payload: dict, provenance: dict, title: str
) -> None:
    """Every table and figure of the evaluation into `folder`; its provenance, then metrics.json last."""
    write_csv_table(folder / PREDICTIONS_FILE, predictions)
    write_csv_table(folder / THRESHOLD_FILE, tables.per_threshold)
    write_csv_table(folder / PER_SITE_FILE, tables.per_site)
    write_csv_table(folder / ROC_FILE, tables.roc)
    write_csv_table(folder / PR_FILE, tables.pr)
    write_figures(folder, predictions, list(tables.per_threshold["threshold"]), title)
    write_json(folder / METRICS_PROVENANCE_FILE, provenance)
    write_json(folder / METRICS_FILE, payload)
