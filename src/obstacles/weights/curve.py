"""Pure math of the sample weights: no I/O, importable from notebooks."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pandas as pd

from obstacles.lineage.names import to_is_obstacle

WEIGHT_COLUMNS = ("diff_metric", "diff_threshold", "sigma_dist", "diff_coef", "sample_weight")
# A spread below this is rounding noise of identical values (their mean is not exact), not a spread.
NO_SPREAD = 1e-12
DIFF_LEVELS = 256  # 8-bit pixel differences 0..255


def max_channel_diff(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Per pixel, the largest absolute difference over the colour channels (uint8 in, uint8 out)."""
    reference = np.asarray(reference)
    current = np.asarray(current)
    if reference.shape != current.shape:
        raise ValueError(f"reference {reference.shape} and current {current.shape} differ in shape")
    diff = cv2.absdiff(reference, current)
    if diff.ndim == 3:  # max over channels; cv2 is ~10x faster than a NumPy reduction here
        channels = cv2.split(diff)
        diff = channels[0]
        for channel in channels[1:]:
            diff = cv2.max(diff, channel)
    return diff


def diff_mask(reference: np.ndarray, current: np.ndarray, pixel_threshold: float) -> np.ndarray:
    """Pixels whose largest per-channel absolute difference exceeds the site's threshold."""
    return max_channel_diff(reference, current) > pixel_threshold


def diff_histogram(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Pixel count per max-channel difference value 0..255: enough to get diff_metric at any
    threshold later without decoding the pair again (the pipeline stores it per image)."""
    diff = max_channel_diff(reference, current)
    if diff.dtype != np.uint8:
        raise ValueError(f"diff_histogram needs 8-bit images, got {diff.dtype}")
    return (
        cv2.calcHist([np.ascontiguousarray(diff)], [0], None, [DIFF_LEVELS], [0, DIFF_LEVELS]).ravel().astype(np.int64)
    )


def changed_fraction(histograms: np.ndarray, pixel_threshold: float) -> np.ndarray | float:
    """diff_metric from diff histograms (one per row): the fraction of pixels above the threshold."""
    counts = np.asarray(histograms, dtype=np.int64)
    if counts.shape[-1] != DIFF_LEVELS:
        raise ValueError(f"a diff histogram has {DIFF_LEVELS} bins, got {counts.shape[-1]}")
    first_changed = int(np.clip(np.floor(pixel_threshold) + 1, 0, DIFF_LEVELS))  # values v > threshold
    total = counts.sum(axis=-1)
    if np.any(total == 0):
        raise ValueError("a diff histogram counts no pixels")
    fraction = counts[..., first_changed:].sum(axis=-1) / total
    return float(fraction) if np.ndim(fraction) == 0 else fraction


def diff_metric(reference: np.ndarray, current: np.ndarray, pixel_threshold: float) -> float:
    """Fraction of pixels that changed between reference and current, in [0, 1]."""
    return changed_fraction(diff_histogram(reference, current), pixel_threshold)


def diff_coef(sigma_dist, alfa: float, beta: float, gamma: float):
    """Logistic weight curve; 0.5 at sigma_dist = beta / alfa. Vectorised, overflow-safe."""
    z = gamma * (alfa * np.asarray(sigma_dist, dtype=np.float64) - beta)
    # 1 / (1 + exp(-z)) written so that neither branch overflows.
    out = np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))
    return float(out) if out.ndim == 0 else out


def compute_sample_weights(
    diff_metric,
    is_obstacle,
    *,
    alfa: float,
    beta: float,
    gamma: float,
    swc: float,
    std_threshold_dist: float,
) -> pd.DataFrame:
    """Per-image weight table, row for row with the inputs (training split only).

    Statistics are per class over the given images (population std). A class too small or
    too uniform to have a spread gets weight 1.0 and a warning, never NaN.
    """
    metric = np.asarray(diff_metric, dtype=np.float64).ravel()
    obstacle = to_is_obstacle(is_obstacle)
    if metric.shape != obstacle.shape:
        raise ValueError(f"{metric.size} diff_metric values but {obstacle.size} labels")
    if not np.all(np.isfinite(metric)):
        bad = np.flatnonzero(~np.isfinite(metric))
        raise ValueError(f"diff_metric has {bad.size} non-finite values (first at row {bad[0]})")

    table = pd.DataFrame(
        {
            "diff_metric": metric,
            "diff_threshold": 0.0,
            "sigma_dist": 0.0,
            "diff_coef": 0.0,
            "sample_weight": 1.0,
        }
    )
    for sign, members in ((+1.0, obstacle), (-1.0, ~obstacle)):
        values = metric[members]
        name = "obstacle" if sign > 0 else "no_obstacle"
        std = float(values.std()) if values.size else 0.0
        if values.size < 2 or std <= NO_SPREAD:
            if values.size:
                warnings.warn(
                    f"class {name}: {values.size} training image(s), std {std:g}: weights set to 1.0 for this class",
                    stacklevel=2,
                )
                table.loc[members, "diff_threshold"] = float(values.mean())
            continue
        threshold = float(values.mean()) + sign * std_threshold_dist * std
        sigma = sign * (values - threshold) / std
        coef = diff_coef(sigma, alfa, beta, gamma)
        table.loc[members, "diff_threshold"] = threshold
        table.loc[members, "sigma_dist"] = sigma
        table.loc[members, "diff_coef"] = coef
        table.loc[members, "sample_weight"] = 1.0 + swc * np.asarray(coef)
    return table
