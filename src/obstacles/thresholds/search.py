"""The two deployment thresholds (DESIGN section 5): pure math, exact, fast on millions of predictions.

Rule: ``score <= lower`` -> no_obstacle, ``score > upper`` -> obstacle, otherwise not decided.
The limits are separable: how many obstacles are missed depends on ``lower`` only, how many false
alarms on ``upper`` only. So the best lower is the largest candidate whose missed rate meets its
limit and the best upper the smallest candidate whose false-alarm rate meets its limit; each is one
index into the sorted scores of one class, found without looping over candidates. Candidates are
every distinct score plus "below every score" (a lower that decides nothing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from itertools import product

import numpy as np
import pandas as pd

from obstacles.metrics import safe_ratio, split_sorted, validate_predictions

DEFAULT_MAX_MISSED = 0.01
DEFAULT_MAX_FALSE_ALARM = 0.05
DEFAULT_DECIMALS = 2
# Rounding slack in score units: 0.29 is stored as 0.28999999999999998 and must not be floored to 0.28.
DEFAULT_EPSILON = 1e-9
DEFAULT_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


@dataclass(frozen=True)
class Decisions:
    """What one (lower, upper) pair does on the data; tp/tn/fp/fn count decided images only."""

    lower: float
    upper: float
    coverage: float
    missed_rate: float
    false_alarm_rate: float
    accuracy_decided: float
    n: int
    n_obstacle: int
    n_no_obstacle: int
    n_decided: int
    n_not_decided: int
    tp: int
    tn: int
    fp: int
    fn: int

    def meets(self, max_missed: float, max_false_alarm: float) -> bool:
        return self.missed_rate <= max_missed and self.false_alarm_rate <= max_false_alarm


@dataclass(frozen=True)
class ThresholdResult(Decisions):
    """The exact optimum (the inherited fields) and what deployment gets after rounding (``rounded``)."""

    lower_rounded: float
    upper_rounded: float
    single_threshold: bool
    max_missed: float
    max_false_alarm: float
    decimals: int
    rounded: Decisions

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (``rounded`` nested)."""
        return asdict(self)


@dataclass(frozen=True)
class SortedPredictions:
    """Each class's scores sorted once; every count "score <= t" is then a binary search."""

    obstacle: np.ndarray
    no_obstacle: np.ndarray

    @classmethod
    def build(cls, scores, labels) -> SortedPredictions:
        score_array, is_obstacle = validate_predictions(scores, labels, require_both_classes=True)
        return cls(*split_sorted(score_array, is_obstacle))

    @property
    def n_obstacle(self) -> int:
        return int(self.obstacle.size)

    @property
    def n_no_obstacle(self) -> int:
        return int(self.no_obstacle.size)

    @property
    def below_all(self) -> float:
        """The largest float under every score: a threshold that puts no image at or below it."""
        return float(np.nextafter(min(self.obstacle[0], self.no_obstacle[0]), -np.inf))

    def count_at_or_below(self, t: float) -> tuple[int, int]:
        """(#obstacle, #no_obstacle) with score <= t."""
        return (
            int(np.searchsorted(self.obstacle, t, side="right")),
            int(np.searchsorted(self.no_obstacle, t, side="right")),
        )

    def decisions(self, lower: float, upper: float) -> Decisions:
        fn, tn = self.count_at_or_below(lower)
        obstacle_le_upper, no_obstacle_le_upper = self.count_at_or_below(upper)
        tp = self.n_obstacle - obstacle_le_upper
        fp = self.n_no_obstacle - no_obstacle_le_upper
        n = self.n_obstacle + self.n_no_obstacle
        decided = tp + tn + fp + fn
        return Decisions(
            lower=float(lower),
            upper=float(upper),
            coverage=decided / n,
            missed_rate=fn / self.n_obstacle,
            false_alarm_rate=fp / self.n_no_obstacle,
            accuracy_decided=safe_ratio(tp + tn, decided),
            n=n,
            n_obstacle=self.n_obstacle,
            n_no_obstacle=self.n_no_obstacle,
            n_decided=decided,
            n_not_decided=n - decided,
            tp=tp,
            tn=tn,
            fp=fp,
            fn=fn,
        )


# --------------------------------------------------------------------------- exact search


def _check_limit(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a rate in [0, 1], got {value}")
    return value


def _allowed_count(limit: float, total: int) -> int:
    """Largest k with k / total <= limit, compared exactly as the reported rate is computed."""
    k = min(total, math.floor(limit * total))
    while k < total and (k + 1) / total <= limit:
        k += 1
    while k > 0 and k / total > limit:
        k -= 1
    return k


def _largest_below(sorted_values: np.ndarray, bound: float) -> float | None:
    i = int(np.searchsorted(sorted_values, bound, side="left"))
    return float(sorted_values[i - 1]) if i > 0 else None


def best_lower(data: SortedPredictions, max_missed: float) -> float:
    """Largest candidate missing at most the allowed obstacles: just under the first obstacle too many."""
    allowed = _allowed_count(max_missed, data.n_obstacle)
    if allowed >= data.n_obstacle:
        return float(max(data.obstacle[-1], data.no_obstacle[-1]))
    first_too_many = data.obstacle[allowed]
    below = [v for v in (_largest_below(a, first_too_many) for a in (data.obstacle, data.no_obstacle)) if v is not None]
    return max(below) if below else data.below_all


def best_upper(data: SortedPredictions, max_false_alarm: float) -> float:
    """Smallest candidate leaving at most the allowed no-obstacle images above it."""
    allowed = _allowed_count(max_false_alarm, data.n_no_obstacle)
    if allowed >= data.n_no_obstacle:
        return data.below_all
    return float(data.no_obstacle[data.n_no_obstacle - 1 - allowed])


def most_accurate_single(data: SortedPredictions, low: float, high: float) -> float:
    """Among candidates in [low, high], the one with the highest accuracy (the lowest such on ties)."""
    pieces = [
        values[np.searchsorted(values, low, side="left") : np.searchsorted(values, high, side="right")]
        for values in (data.obstacle, data.no_obstacle)
    ]
    if low <= data.below_all:
        pieces.append(np.array([data.below_all]))
    keys = np.concatenate(pieces)
    correct = np.searchsorted(data.no_obstacle, keys, side="right") + (
        data.n_obstacle - np.searchsorted(data.obstacle, keys, side="right")
    )
    return float(keys[correct == correct.max()].min())


# --------------------------------------------------------------------------- rounding for deployment


def _decides_same(data: SortedPredictions, a: float, b: float) -> bool:
    return data.count_at_or_below(a) == data.count_at_or_below(b)


def round_lower(data: SortedPredictions, x: float, decimals: int, epsilon: float) -> float:
    """Round down to `decimals`; the epsilon may lift it only across float noise, never across an image."""
    scale = 10**decimals
    guarded = math.floor((x + epsilon) * scale) / scale
    if guarded <= x or _decides_same(data, guarded, x):
        return guarded
    k = math.floor(x * scale)
    while k / scale > x:
        k -= 1
    return k / scale


def round_upper(data: SortedPredictions, x: float, decimals: int, epsilon: float) -> float:
    """Round up to `decimals`; the epsilon may lower it only across float noise, never across an image."""
    scale = 10**decimals
    guarded = math.ceil((x - epsilon) * scale) / scale
    if guarded >= x or _decides_same(data, guarded, x):
        return guarded
    k = math.ceil(x * scale)
    while k / scale < x:
        k += 1
    return k / scale


# --------------------------------------------------------------------------- public API


def search(
    data: SortedPredictions,
    *,
    max_missed: float = DEFAULT_MAX_MISSED,
    max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> ThresholdResult:
    """`find_thresholds` on already sorted predictions (lets a sweep sort only once)."""
    max_missed = _check_limit("max_missed", max_missed)
    max_false_alarm = _check_limit("max_false_alarm", max_false_alarm)
    if int(decimals) != decimals or decimals < 0 or not 0.0 <= epsilon < 0.5 / 10**decimals:
        raise ValueError(f"bad rounding: decimals={decimals}, epsilon={epsilon}")
    lower, upper = best_lower(data, max_missed), best_upper(data, max_false_alarm)
    single = lower >= upper
    if single:
        lower = upper = most_accurate_single(data, upper, lower)
    exact = data.decisions(lower, upper)

    lower_rounded = round_lower(data, lower, decimals, epsilon)
    upper_rounded = round_upper(data, upper, decimals, epsilon)
    rounded = data.decisions(min(lower_rounded, upper_rounded), upper_rounded)
    for name, metrics in (("exact", exact), ("rounded", rounded)):
        if not metrics.meets(max_missed, max_false_alarm):  # cannot happen: the search is exact, rounding outward
            raise RuntimeError(f"internal error: {name} thresholds break the limits: {metrics}")

    flat = {f.name: getattr(exact, f.name) for f in fields(Decisions)}
    return ThresholdResult(
        **flat,
        lower_rounded=rounded.lower,
        upper_rounded=rounded.upper,
        single_threshold=single,
        max_missed=max_missed,
        max_false_alarm=max_false_alarm,
        decimals=int(decimals),
        rounded=rounded,
    )


def find_thresholds(
    scores,
    labels,
    *,
    max_missed: float = DEFAULT_MAX_MISSED,
    max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> ThresholdResult:
    """Exact (lower, upper) with the fewest not-decided images meeting both limits, plus its rounding.

    If one threshold meets both limits, ``lower == upper`` at the most accurate such value
    (``single_threshold``). Raises ValueError on NaN/inf scores, unknown labels, or a missing class.
    """
    data = SortedPredictions.build(scores, labels)
    return search(data, max_missed=max_missed, max_false_alarm=max_false_alarm, decimals=decimals, epsilon=epsilon)


def limit_grid(max_missed=DEFAULT_GRID, max_false_alarm=DEFAULT_GRID) -> list[tuple[float, float]]:
    """Every (max_missed, max_false_alarm) pair of two value lists."""
    return [(float(m), float(f)) for m, f in product(max_missed, max_false_alarm)]


SWEEP_COLUMNS = (
    "max_missed",
    "max_false_alarm",
    "lower",
    "upper",
    "lower_rounded",
    "upper_rounded",
    "coverage",
    "missed_rate",
    "false_alarm_rate",
    "accuracy_decided",
    "n_not_decided",
    "single_threshold",
    "coverage_rounded",
    "missed_rate_rounded",
    "false_alarm_rate_rounded",
    "accuracy_decided_rounded",
)


def sweep(
    data: SortedPredictions, limits=None, *, decimals: int = DEFAULT_DECIMALS, epsilon: float = DEFAULT_EPSILON
) -> pd.DataFrame:
    """`coverage_sweep` on already sorted predictions."""
    rows = []
    for max_missed, max_false_alarm in limit_grid() if limits is None else limits:
        result = search(
            data, max_missed=max_missed, max_false_alarm=max_false_alarm, decimals=decimals, epsilon=epsilon
        )
        row = {name: getattr(result, name) for name in SWEEP_COLUMNS if hasattr(result, name)}
        for name in ("coverage", "missed_rate", "false_alarm_rate", "accuracy_decided"):
            row[f"{name}_rounded"] = getattr(result.rounded, name)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SWEEP_COLUMNS))


def coverage_sweep(
    scores,
    labels,
    limits=None,
    *,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> pd.DataFrame:
    """Coverage at every (max_missed, max_false_alarm) pair (default: `limit_grid()`); sorts only once."""
    return sweep(SortedPredictions.build(scores, labels), limits, decimals=decimals, epsilon=epsilon)
