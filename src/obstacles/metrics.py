"""Evaluation at single thresholds (DESIGN section 4): pure numpy, no I/O, importable from notebooks.

Conventions shared by every function here and by `obstacles.thresholds`:
- predicted obstacle iff ``score > threshold``;
- labels may be 1/True/"obstacle" or 0/False/"no_obstacle" (see `obstacles.lineage.names`);
- a ratio whose denominator is zero (e.g. recall with no obstacle image) is reported as 0.0,
  never NaN, so tables stay numeric and JSON-safe.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from obstacles.lineage.names import CLASSES, NO_OBSTACLE, OBSTACLE, to_is_obstacle

METRIC_COLUMNS = (
    "threshold",
    "tp",
    "tn",
    "fp",
    "fn",
    "recall",
    "specificity",
    "precision",
    "accuracy",
    "f1",
    "balanced_accuracy",
)
CONFUSION_CLASSES = CLASSES  # rows: true class, columns: predicted class, in this order
DEFAULT_SENSITIVITY = 0.9


# --------------------------------------------------------------------------- validation


def labels_to_bool(labels) -> np.ndarray:
    """`to_is_obstacle` semantics, but fast on millions of labels (maps each distinct value once)."""
    values = np.asarray(labels)
    if values.dtype == bool:
        return values.ravel()
    if values.dtype.kind in "iu" and np.isin(values, (0, 1)).all():
        return values.ravel() != 0
    flat = np.asarray(values, dtype=object).ravel()
    codes, uniques = pd.factorize(flat, use_na_sentinel=False)
    try:
        mapped = to_is_obstacle(np.asarray(uniques, dtype=object))
    except ValueError:
        to_is_obstacle(flat)  # re-raise naming the position in the caller's labels
        raise
    return mapped[codes]


def validate_predictions(scores, labels, *, require_both_classes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Scores as finite float64 and labels as bool, or a ValueError that says what is wrong.

    One gate for every metric, so a NaN score or a typo in a label never turns into a
    silently wrong number further down.
    """
    score_array = np.asarray(scores, dtype=np.float64)
    if score_array.ndim != 1:
        raise ValueError(f"scores must be one-dimensional, got shape {score_array.shape}")
    is_obstacle = labels_to_bool(labels)
    if score_array.size != is_obstacle.size:
        raise ValueError(f"{score_array.size} scores but {is_obstacle.size} labels")
    if score_array.size == 0:
        raise ValueError("no predictions: scores and labels are empty")
    finite = np.isfinite(score_array)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"scores contain {bad.size} NaN/inf value(s); first at index {bad[0]} ({score_array[bad[0]]!r})"
        )
    outside = np.flatnonzero((score_array < 0.0) | (score_array > 1.0))
    if outside.size:
        raise ValueError(
            f"scores must be probabilities in [0, 1]: {outside.size} outside, first at index {outside[0]} "
            f"({float(score_array[outside[0]])!r})"
        )
    if require_both_classes:
        n_obstacle = int(is_obstacle.sum())
        for name, count in ((OBSTACLE, n_obstacle), (NO_OBSTACLE, is_obstacle.size - n_obstacle)):
            if count == 0:
                raise ValueError(f"no {name} images among {is_obstacle.size} predictions: both classes are needed")
    return score_array, is_obstacle


def split_sorted(scores: np.ndarray, is_obstacle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted scores of each class: every count "score <= t" is then one searchsorted."""
    return np.sort(scores[is_obstacle]), np.sort(scores[~is_obstacle])


def safe_ratio(numerator, denominator):
    """numerator / denominator, 0.0 where the denominator is 0 (documented convention)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- single thresholds


def _as_thresholds(thresholds) -> np.ndarray:
    values = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError(f"thresholds must be finite numbers, got {thresholds!r}")
    return values


def _counts(sorted_obstacle: np.ndarray, sorted_no_obstacle: np.ndarray, thresholds: np.ndarray):
    """(tp, tn, fp, fn) arrays, one entry per threshold."""
    fn = np.searchsorted(sorted_obstacle, thresholds, side="right")
    tn = np.searchsorted(sorted_no_obstacle, thresholds, side="right")
    return sorted_obstacle.size - fn, tn, sorted_no_obstacle.size - tn, fn


def _metrics_table(thresholds: np.ndarray, tp, tn, fp, fn) -> pd.DataFrame:
    recall = safe_ratio(tp, tp + fn)
    specificity = safe_ratio(tn, tn + fp)
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "tp": tp.astype(np.int64),
            "tn": tn.astype(np.int64),
            "fp": fp.astype(np.int64),
            "fn": fn.astype(np.int64),
            "recall": recall,
            "specificity": specificity,
            "precision": safe_ratio(tp, tp + fp),
            "accuracy": safe_ratio(tp + tn, tp + tn + fp + fn),
            "f1": safe_ratio(2 * tp, 2 * tp + fp + fn),
            "balanced_accuracy": (recall + specificity) / 2.0,
        },
        columns=list(METRIC_COLUMNS),
    )


def threshold_metrics(scores, labels, thresholds) -> pd.DataFrame:
    """One row per threshold (input order) with counts and rates; predicted obstacle iff score > t.

    One sort per class, then one searchsorted per threshold set: fast for many thresholds.
    Rates with a zero denominator are 0.0. A single class is allowed (its missing rates are 0.0).
    """
    score_array, is_obstacle = validate_predictions(scores, labels)
    values = _as_thresholds(thresholds)
    sorted_obstacle, sorted_no_obstacle = split_sorted(score_array, is_obstacle)
    return _metrics_table(values, *_counts(sorted_obstacle, sorted_no_obstacle, values))


def confusion_matrix(scores, labels, threshold: float, *, normalize: bool = False) -> np.ndarray:
    """2x2 counts; rows = true class, columns = predicted, both ordered [no_obstacle, obstacle].

    With ``normalize`` each row is divided by its total (a row with no images stays 0.0), so the
    diagonal reads specificity then recall.
    """
    row = threshold_metrics(scores, labels, [threshold]).iloc[0]
    counts = np.array([[row.tn, row.fp], [row.fn, row.tp]], dtype=np.int64)
    return normalize_confusion(counts) if normalize else counts


def normalize_confusion(counts) -> np.ndarray:
    """Row-normalised confusion matrix (rows summing to 1, empty rows 0.0)."""
    counts = np.asarray(counts, dtype=np.float64)
    return safe_ratio(counts, counts.sum(axis=1, keepdims=True))


# --------------------------------------------------------------------------- threshold-free summary


def roc_points(scores, labels) -> pd.DataFrame:
    """Every achievable (threshold, recall, specificity): thresholds are "below every score" and each
    distinct score, so the table is the exact ROC under the ``score > t`` rule."""
    score_array, is_obstacle = validate_predictions(scores, labels, require_both_classes=True)
    sorted_obstacle, sorted_no_obstacle = split_sorted(score_array, is_obstacle)
    distinct = np.unique(score_array)
    candidates = np.concatenate(([np.nextafter(distinct[0], -np.inf)], distinct))
    return _metrics_table(candidates, *_counts(sorted_obstacle, sorted_no_obstacle, candidates))


def specificity_at_sensitivity(scores, labels, sensitivity: float = DEFAULT_SENSITIVITY) -> tuple[float, float]:
    """(best specificity among thresholds with recall >= sensitivity, that threshold), exact from the ROC.

    Recall falls and specificity rises with the threshold, so the answer is the largest threshold
    that still reaches the sensitivity; "below every score" (recall 1) always qualifies.
    """
    if not 0.0 <= sensitivity <= 1.0:
        raise ValueError(f"sensitivity must be in [0, 1], got {sensitivity}")
    roc = roc_points(scores, labels)
    ok = np.flatnonzero(roc["recall"].to_numpy() >= sensitivity)
    best = ok[-1]
    return float(roc["specificity"].iat[best]), float(roc["threshold"].iat[best])


def summary_metrics(scores, labels, *, sensitivity: float = DEFAULT_SENSITIVITY) -> dict:
    """Threshold-free numbers the team compares across runs: AUROC, AP, specificity at a sensitivity."""
    from sklearn.metrics import average_precision_score, roc_auc_score  # heavy import, only here

    score_array, is_obstacle = validate_predictions(scores, labels, require_both_classes=True)
    specificity, threshold = specificity_at_sensitivity(score_array, is_obstacle, sensitivity)
    n_obstacle = int(is_obstacle.sum())
    return {
        "auroc": float(roc_auc_score(is_obstacle, score_array)),
        "average_precision": float(average_precision_score(is_obstacle, score_array)),
        "specificity_at_sensitivity": specificity,
        "sensitivity_target": float(sensitivity),
        "threshold_at_sensitivity": threshold,
        "n": int(is_obstacle.size),
        "n_obstacle": n_obstacle,
        "n_no_obstacle": int(is_obstacle.size) - n_obstacle,
    }
