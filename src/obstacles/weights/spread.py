"""How the weights of one class spread out: pure math, no I/O, no printing.

A weight curve only emphasises hard cases if a class's weights differ. When nearly every image of
a class sits at the same weight (e.g. all at ``1 + swc`` because the class threshold
``mean - k * std`` fell below every diff_metric), the weighting no longer singles anything out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class WeightSpread:
    """Where one class's weights sit, each share a fraction of the class's images.

    ``peak_share``: the largest fraction of images whose weights all lie within ``tolerance``
    (relative) of one weight, ``peak_weight``; ``share_at_min_weight`` / ``share_at_max_weight``:
    the fraction within ``tolerance`` of the curve's lowest (1) and highest (``1 + swc``) weight.
    """

    images: int
    peak_weight: float
    peak_share: float
    share_at_min_weight: float
    share_at_max_weight: float

    def concentrated(self, max_share: float) -> bool:
        """More than ``max_share`` of the images at one weight (a class of one image never is)."""
        return self.images >= 2 and self.peak_share > max_share

    def to_dict(self) -> dict:
        return asdict(self)


def curve_bounds(swc: float) -> tuple[float, float]:
    """The lowest and highest weight ``1 + swc * diff_coef`` can give (diff_coef in [0, 1])."""
    return min(1.0, 1.0 + swc), max(1.0, 1.0 + swc)


def _within(values: np.ndarray, centre: float, tolerance: float) -> np.ndarray:
    return np.abs(values - centre) <= tolerance * abs(centre)


def peak(weights: np.ndarray, tolerance: float) -> tuple[float, int]:
    """(centre, count) of the largest group of weights within ``tolerance`` of one centre.

    A window [c(1 - t), c(1 + t)] holds the most weights when its lower edge is one of them, so
    one binary search per weight over the sorted weights finds it (weights are positive).
    """
    values = np.sort(np.asarray(weights, dtype=np.float64))
    if values.size == 0:
        return float("nan"), 0
    if tolerance <= 0:
        distinct, counts = np.unique(values, return_counts=True)
        best = int(np.argmax(counts))
        return float(distinct[best]), int(counts[best])
    if tolerance >= 1:
        return float(np.median(values)), int(values.size)
    centres = values / (1.0 - tolerance)
    upper = centres * (1.0 + tolerance)
    counts = np.searchsorted(values, upper, side="right") - np.arange(values.size)
    best = int(np.argmax(counts))
    members = values[best : best + counts[best]]
    return float(np.median(members)), int(counts[best])


def weight_spread(weights, *, swc: float, tolerance: float) -> WeightSpread:
    """The spread of one class's weights (``tolerance`` relative, e.g. 0.01 for 1%)."""
    values = np.asarray(weights, dtype=np.float64).ravel()
    if tolerance < 0 or not np.isfinite(tolerance):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance}")
    if values.size and (not np.all(np.isfinite(values)) or values.min() <= 0):
        raise ValueError("weights must be finite and positive")
    n = int(values.size)
    if n == 0:
        return WeightSpread(0, float("nan"), 0.0, 0.0, 0.0)
    low, high = curve_bounds(swc)
    centre, count = peak(values, tolerance)
    return WeightSpread(
        images=n,
        peak_weight=centre,
        peak_share=count / n,
        share_at_min_weight=float(_within(values, low, tolerance).mean()),
        share_at_max_weight=float(_within(values, high, tolerance).mean()),
    )


def class_spreads(weights, is_obstacle, *, swc: float, tolerance: float) -> dict[str, WeightSpread]:
    """``weight_spread`` per class present, keyed by class name."""
    values = np.asarray(weights, dtype=np.float64).ravel()
    obstacle = np.asarray(is_obstacle, dtype=bool).ravel()
    if values.shape != obstacle.shape:
        raise ValueError(f"{values.size} weights but {obstacle.size} labels")
    spreads = {}
    for name, members in (("no_obstacle", ~obstacle), ("obstacle", obstacle)):
        if members.any():
            spreads[name] = weight_spread(values[members], swc=swc, tolerance=tolerance)
    return spreads


def concentrated_classes(spreads: dict[str, WeightSpread], max_share: float) -> dict[str, WeightSpread]:
    """The classes with more than ``max_share`` of their images at one weight."""
    return {name: spread for name, spread in spreads.items() if spread.concentrated(max_share)}
