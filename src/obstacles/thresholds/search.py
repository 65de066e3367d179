"""The two deployment thresholds (DESIGN section 5): pure math, exact, fast on millions of predictions.

Rule: ``score <= lower`` -> no_obstacle, ``score > upper`` -> obstacle, otherwise not decided.
The limits are separable: how many obstacles are missed depends on ``lower`` only, how many false
alarms on ``upper`` only. So the best lower is the largest candidate missing at most the allowed
number of obstacles and the best upper the smallest candidate leaving at most the allowed number of
false alarms; each is one index into the sorted scores of one class, found without looping over
candidates. Candidates are every distinct score plus "below every score" (a lower that decides
nothing). Both modes differ only in the allowed counts:

- empirical (``confidence=None``): the largest counts whose rates on the evaluation images meet the
  limits (``k / n <= limit``);
- certified (``confidence=c``): the largest counts whose one-sided exact binomial (Clopper-Pearson)
  upper bounds meet the limits, each bound at ``1 - (1 - c) / 2`` (`bounds.max_allowed_errors`,
  computed once per class size). Why that certifies both true rates at once with probability at
  least ``c`` is in `find_thresholds`' docstring.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from itertools import product

import numpy as np
import pandas as pd

from obstacles.metrics import safe_ratio, split_sorted, validate_predictions
from obstacles.thresholds.bounds import (
    DEFAULT_CONFIDENCE,
    best_certifiable_rate,
    check_confidence,
    max_allowed_errors,
    required_samples,
    side_confidence,
    upper_bound,
)

DEFAULT_MAX_MISSED = 0.01
DEFAULT_MAX_FALSE_ALARM = 0.05
DEFAULT_DECIMALS = 2
# Rounding slack in score units: 0.29 is stored as 0.28999999999999998 and must not be floored to 0.28.
DEFAULT_EPSILON = 1e-9
DEFAULT_GRID = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
# Scores are probabilities in [0, 1]: a lower under 0 never calls a frame no_obstacle and an upper at
# 1 never calls one obstacle, on any data. Their true error rates are 0, known rather than estimated:
# "decide nothing on that side", the certified answer when the evaluation images are too few.
BELOW_RANGE = float(np.nextafter(0.0, -np.inf))
ABOVE_RANGE = 1.0


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
class BoundedDecisions(Decisions):
    """Decisions with the one-sided Clopper-Pearson upper bounds on both true rates.

    Each bound is at ``1 - (1 - confidence) / 2``, so that ``certified`` (both bounds within their
    limits) states both limits at once with probability at least ``confidence`` (`find_thresholds`).
    A lower under every possible score (``< 0``) or an upper at or above 1 can never make its error:
    its bound is 0.
    """

    missed_rate_upper: float
    false_alarm_rate_upper: float
    confidence: float
    certified: bool


@dataclass(frozen=True)
class ThresholdResult(BoundedDecisions):
    """The search's pair (the inherited fields) and what deployment gets after rounding (``rounded``).

    ``certified_search``: searched in certified mode (``confidence`` given) rather than on the
    empirical rates; ``allowed_missed`` / ``allowed_false_alarms``: the most misses / false alarms
    the search allowed on the evaluation images (-1: not even none, so that side decides nothing).
    """

    lower_rounded: float
    upper_rounded: float
    single_threshold: bool
    max_missed: float
    max_false_alarm: float
    decimals: int
    certified_search: bool
    allowed_missed: int
    allowed_false_alarms: int
    rounded: BoundedDecisions

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


def lower_for_count(data: SortedPredictions, allowed: int) -> float:
    """Largest candidate missing at most ``allowed`` obstacles: just under the first obstacle too many.

    ``allowed < 0`` (not even no miss is allowed): `BELOW_RANGE`, under every possible score.
    """
    if allowed < 0:
        return BELOW_RANGE
    if allowed >= data.n_obstacle:
        return float(max(data.obstacle[-1], data.no_obstacle[-1]))
    first_too_many = data.obstacle[allowed]
    below = [v for v in (_largest_below(a, first_too_many) for a in (data.obstacle, data.no_obstacle)) if v is not None]
    return max(below) if below else data.below_all


def upper_for_count(data: SortedPredictions, allowed: int) -> float:
    """Smallest candidate leaving at most ``allowed`` no-obstacle images above it.

    ``allowed < 0``: `ABOVE_RANGE`, which no score exceeds.
    """
    if allowed < 0:
        return ABOVE_RANGE
    if allowed >= data.n_no_obstacle:
        return data.below_all
    return float(data.no_obstacle[data.n_no_obstacle - 1 - allowed])


def best_lower(data: SortedPredictions, max_missed: float) -> float:
    """Largest candidate whose missed rate on the data meets ``max_missed``."""
    return lower_for_count(data, _allowed_count(max_missed, data.n_obstacle))


def best_upper(data: SortedPredictions, max_false_alarm: float) -> float:
    """Smallest candidate whose false-alarm rate on the data meets ``max_false_alarm``."""
    return upper_for_count(data, _allowed_count(max_false_alarm, data.n_no_obstacle))


def most_accurate_single(data: SortedPredictions, low: float, high: float) -> float:
    """Among candidates in [low, high], the one with the highest accuracy (the lowest such on ties)."""
    pieces = [
        values[np.searchsorted(values, low, side="left") : np.searchsorted(values, high, side="right")]
        for values in (data.obstacle, data.no_obstacle)
    ]
    if low <= data.below_all <= high:
        pieces.append(np.array([data.below_all]))
    keys = np.concatenate(pieces)
    if keys.size == 0:  # [low, high] holds no candidate: high itself (an out-of-range certified value)
        return float(high)
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
    if x < 0.0:  # under every possible score: stays there (a new frame may score exactly 0)
        return math.floor(x * scale) / scale
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


# --------------------------------------------------------------------------- bounds


def with_bounds(decisions: Decisions, confidence: float, max_missed: float, max_false_alarm: float) -> BoundedDecisions:
    """``decisions`` with both one-sided Clopper-Pearson bounds, each at `side_confidence` (confidence)."""
    side = side_confidence(confidence)
    missed_upper = 0.0 if decisions.lower < 0.0 else upper_bound(decisions.fn, decisions.n_obstacle, side)
    false_alarm_upper = (
        0.0 if decisions.upper >= ABOVE_RANGE else upper_bound(decisions.fp, decisions.n_no_obstacle, side)
    )
    flat = {f.name: getattr(decisions, f.name) for f in fields(Decisions)}
    return BoundedDecisions(
        **flat,
        missed_rate_upper=missed_upper,
        false_alarm_rate_upper=false_alarm_upper,
        confidence=float(confidence),
        certified=bool(missed_upper <= max_missed and false_alarm_upper <= max_false_alarm),
    )


def allowed_counts(
    data: SortedPredictions, max_missed: float, max_false_alarm: float, confidence: float | None
) -> tuple[int, int]:
    """Most misses and false alarms the search may leave on the data (-1: none at all, decide nothing)."""
    if confidence is None:
        return _allowed_count(max_missed, data.n_obstacle), _allowed_count(max_false_alarm, data.n_no_obstacle)
    side = side_confidence(confidence)
    return (
        max_allowed_errors(data.n_obstacle, max_missed, side),
        max_allowed_errors(data.n_no_obstacle, max_false_alarm, side),
    )


# --------------------------------------------------------------------------- public API


def search_sorted(
    data: SortedPredictions,
    *,
    max_missed: float = DEFAULT_MAX_MISSED,
    max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM,
    confidence: float | None = None,
    report_confidence: float = DEFAULT_CONFIDENCE,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> ThresholdResult:
    """`find_thresholds` on already sorted predictions (lets a sweep sort only once)."""
    max_missed = _check_limit("max_missed", max_missed)
    max_false_alarm = _check_limit("max_false_alarm", max_false_alarm)
    if confidence is not None:
        confidence = check_confidence(confidence)
    bound_confidence = check_confidence(report_confidence) if confidence is None else confidence
    if int(decimals) != decimals or decimals < 0 or not 0.0 <= epsilon < 0.5 / 10**decimals:
        raise ValueError(f"bad rounding: decimals={decimals}, epsilon={epsilon}")
    allowed_missed, allowed_false_alarms = allowed_counts(data, max_missed, max_false_alarm, confidence)
    lower, upper = lower_for_count(data, allowed_missed), upper_for_count(data, allowed_false_alarms)
    single = lower >= upper
    if single:
        lower = upper = most_accurate_single(data, upper, lower)
    bounded = lambda d: with_bounds(d, bound_confidence, max_missed, max_false_alarm)  # noqa: E731
    exact = bounded(data.decisions(lower, upper))

    lower_rounded = round_lower(data, lower, decimals, epsilon)
    upper_rounded = round_upper(data, upper, decimals, epsilon)
    rounded = bounded(data.decisions(min(lower_rounded, upper_rounded), upper_rounded))  # bounds re-checked here
    for name, metrics in (("exact", exact), ("rounded", rounded)):
        if not metrics.meets(max_missed, max_false_alarm):  # cannot happen: the search is exact, rounding outward
            raise RuntimeError(f"internal error: {name} thresholds break the limits: {metrics}")
        if confidence is not None and not metrics.certified:  # cannot happen: counts within the allowed ones
            raise RuntimeError(f"internal error: {name} certified thresholds' bounds break the limits: {metrics}")

    flat = {f.name: getattr(exact, f.name) for f in fields(BoundedDecisions)}
    return ThresholdResult(
        **flat,
        lower_rounded=rounded.lower,
        upper_rounded=rounded.upper,
        single_threshold=single,
        max_missed=max_missed,
        max_false_alarm=max_false_alarm,
        decimals=int(decimals),
        certified_search=confidence is not None,
        allowed_missed=int(allowed_missed),
        allowed_false_alarms=int(allowed_false_alarms),
        rounded=rounded,
    )


def find_thresholds(
    scores,
    labels,
    *,
    max_missed: float = DEFAULT_MAX_MISSED,
    max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM,
    confidence: float | None = None,
    report_confidence: float = DEFAULT_CONFIDENCE,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> ThresholdResult:
    """(lower, upper) with the fewest not-decided images meeting both limits, plus its rounding.

    ``confidence=None``: the exact empirical optimum, the limits met by the rates on these images.
    ``confidence=c``: the certified optimum, the limits met by the one-sided exact binomial
    (Clopper-Pearson) upper bounds on both rates, each at ``1 - (1 - c) / 2``. Either way the result
    carries both bounds (``missed_rate_upper``, ``false_alarm_rate_upper``) at ``confidence`` (else
    at ``report_confidence``), and ``certified``: both within their limits; ``rounded`` has them again
    at the deployment values (rounded outward: lower down, upper up). If one threshold meets both
    limits, ``lower == upper`` at the most accurate such value (``single_threshold``). Raises
    ValueError on NaN/inf scores, unknown labels, or a missing class.

    Why the certified pair meets both limits on new frames with probability at least ``c`` (over the
    draw of the evaluation images, assumed independent draws of the frames the thresholds will meet):

    - Condition on the labels. The obstacle scores are then independent draws of one distribution;
      its true missed rate ``m(t) = P(score <= t | obstacle)`` and the count ``M(t)`` of evaluation
      obstacles at or below ``t`` both only grow with ``t``. Let ``k*`` be the largest count whose
      bound meets ``max_missed`` (`bounds.max_allowed_errors`). Testing candidate lowers from the
      lowest up (fixed sequence, as in Learn-then-Test), "bound <= limit" holds until ``M`` first
      exceeds ``k*`` and never again, so the sequence stops at the first failure and the chosen
      lower is the largest candidate with ``M(lower) <= k*``.
    - Let ``t*`` be where ``m`` first exceeds the limit. A lower with ``m(lower) > max_missed`` lies at
      or above ``t*``, and then ``M(t) <= M(lower) <= k*`` at fixed points ``t`` at or just above
      ``t*`` where ``m(t) > max_missed``. For each such fixed ``t``, ``P(M(t) <= k*) =
      P(Binomial(n, m(t)) <= k*) <= P(Binomial(n, max_missed) <= k*) <= (1 - c) / 2``: that is what
      the Clopper-Pearson bound at ``k*`` meeting the limit means; letting ``t`` fall to ``t*``
      keeps it. So one test at one fixed (unknown) point covers the whole sequence: no correction
      for the number of candidates, although the candidates are the data's own scores. The same
      holds for ``upper`` with the false-alarm count, which only falls as ``t`` grows, tested from the
      top down. Adding the two sides (Bonferroni) gives both limits at once with probability at
      least ``c``, given any labels, hence overall.
    - The argument needs only that each chosen count is within its ``k*``: it covers the single
      threshold (chosen between the two by accuracy) and the outward rounding (counts only fall).
    - "Decide nothing as no_obstacle" (lower under 0, `BELOW_RANGE`) and "decide nothing as obstacle"
      (upper at 1) never make that error on any frame, since scores are in [0, 1]: when a class has
      too few images for even no error to certify its limit (``allowed_* == -1``), that side decides
      nothing, so there is always an answer and its coverage says what the guarantee costs.

    Not covered: the bound values themselves are what is compared with the limits fixed beforehand;
    at a threshold chosen from the data they are not confidence bounds for other limits. Each
    certified statement (per limit pair of a sweep, per site) holds at ``c`` on its own, not
    simultaneously over limit pairs picked after the fact or over sites.
    """
    data = SortedPredictions.build(scores, labels)
    return search_sorted(
        data,
        max_missed=max_missed,
        max_false_alarm=max_false_alarm,
        confidence=confidence,
        report_confidence=report_confidence,
        decimals=decimals,
        epsilon=epsilon,
    )


def limit_grid(max_missed=DEFAULT_GRID, max_false_alarm=DEFAULT_GRID) -> list[tuple[float, float]]:
    """Every (max_missed, max_false_alarm) pair of two value lists."""
    return [(float(m), float(f)) for m, f in product(max_missed, max_false_alarm)]


# The figures that describe one (lower, upper) pair at a glance: the sweep's certified columns and
# thresholds.json's empirical block.
HEADLINE_FIELDS = (
    "lower",
    "upper",
    "lower_rounded",
    "upper_rounded",
    "coverage",
    "n_not_decided",
    "missed_rate",
    "false_alarm_rate",
    "missed_rate_upper",
    "false_alarm_rate_upper",
)

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
    "missed_rate_upper",
    "false_alarm_rate_upper",
    "certified",
)
# with a confidence: the certified optimum of each cell beside the empirical one
CERTIFIED_SWEEP_COLUMNS = (
    "confidence",
    "certified_lower",
    "certified_upper",
    "certified_lower_rounded",
    "certified_upper_rounded",
    "certified_coverage",
    "certified_coverage_rounded",
    "certified_n_not_decided",
    "certified_missed_rate",
    "certified_false_alarm_rate",
    "certified_missed_rate_upper",
    "certified_false_alarm_rate_upper",
)


def sweep(
    data: SortedPredictions,
    limits=None,
    *,
    confidence: float | None = None,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> pd.DataFrame:
    """`coverage_sweep` on already sorted predictions."""
    rows = []
    rounding = {"decimals": decimals, "epsilon": epsilon}
    report = {} if confidence is None else {"report_confidence": confidence}
    for max_missed, max_false_alarm in limit_grid() if limits is None else limits:
        result = search_sorted(data, max_missed=max_missed, max_false_alarm=max_false_alarm, **report, **rounding)
        row = {name: getattr(result, name) for name in SWEEP_COLUMNS if hasattr(result, name)}
        for name in ("coverage", "missed_rate", "false_alarm_rate", "accuracy_decided"):
            row[f"{name}_rounded"] = getattr(result.rounded, name)
        if confidence is not None:
            certified = search_sorted(
                data, max_missed=max_missed, max_false_alarm=max_false_alarm, confidence=confidence, **rounding
            )
            row["confidence"] = certified.confidence
            for name in HEADLINE_FIELDS:
                row[f"certified_{name}"] = getattr(certified, name)
            row["certified_coverage_rounded"] = certified.rounded.coverage
        rows.append(row)
    columns = list(SWEEP_COLUMNS) + ([] if confidence is None else list(CERTIFIED_SWEEP_COLUMNS))
    return pd.DataFrame(rows, columns=columns)


def coverage_sweep(
    scores,
    labels,
    limits=None,
    *,
    confidence: float | None = None,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> pd.DataFrame:
    """Coverage at every (max_missed, max_false_alarm) pair (default: `limit_grid()`); sorts only once.

    With ``confidence``: the bounds of each empirical optimum at that confidence, and each cell's
    certified optimum beside it (``certified_*`` columns). Each cell is certified for its own limits.
    """
    return sweep(
        SortedPredictions.build(scores, labels), limits, confidence=confidence, decimals=decimals, epsilon=epsilon
    )


# --------------------------------------------------------------------------- per site

PER_SITE_COLUMNS = (
    "site",
    "n",
    "n_obstacle",
    "n_no_obstacle",
    "searched",
    "lower",
    "upper",
    "lower_rounded",
    "upper_rounded",
    "coverage",
    "coverage_rounded",
    "n_not_decided_rounded",
    "missed_rate_rounded",
    "false_alarm_rate_rounded",
    "missed_rate_upper_rounded",
    "false_alarm_rate_upper_rounded",
    "certified",
    "empirical_coverage_rounded",
    "note",
)


def search_per_site(
    scores,
    labels,
    sites,
    *,
    max_missed: float = DEFAULT_MAX_MISSED,
    max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM,
    confidence: float | None = None,
    report_confidence: float = DEFAULT_CONFIDENCE,
    decimals: int = DEFAULT_DECIMALS,
    epsilon: float = DEFAULT_EPSILON,
) -> pd.DataFrame:
    """The same search on each site's images alone: one row per site (sorted by name), `PER_SITE_COLUMNS`.

    Bounds and ``certified`` are at the rounded (deployed) values; ``empirical_coverage_rounded``
    is the empirical optimum's, for the cost of the guarantee. A site without both classes is not
    searched (``searched`` False, thresholds NaN, ``note`` says why). Each site's statement holds at
    its confidence on its own, not for all sites at once.
    """
    score_array, is_obstacle = validate_predictions(scores, labels)
    site_array = np.asarray(sites).astype(str)
    if site_array.shape != score_array.shape:
        raise ValueError(f"{site_array.size} sites but {score_array.size} scores")
    options = {"max_missed": max_missed, "max_false_alarm": max_false_alarm, "decimals": decimals, "epsilon": epsilon}
    rows = []
    for site in sorted(set(site_array.tolist())):
        mask = site_array == site
        n_obstacle = int(is_obstacle[mask].sum())
        row = dict.fromkeys(PER_SITE_COLUMNS, float("nan"))
        row.update(
            site=site,
            n=int(mask.sum()),
            n_obstacle=n_obstacle,
            n_no_obstacle=int(mask.sum()) - n_obstacle,
            searched=False,
            certified=False,
            note="",
        )
        if n_obstacle == 0 or n_obstacle == row["n"]:
            row["note"] = f"no {'obstacle' if n_obstacle == 0 else 'no_obstacle'} images: not searched"
            rows.append(row)
            continue
        data = SortedPredictions(*split_sorted(score_array[mask], is_obstacle[mask]))
        result = search_sorted(data, confidence=confidence, report_confidence=report_confidence, **options)
        empirical = result if confidence is None else search_sorted(data, report_confidence=confidence, **options)
        rounded = result.rounded
        too_few = [
            f"too few {cls} images to certify {name}: {side} decides nothing"
            for allowed, cls, name, side in (
                (result.allowed_missed, "obstacle", "max_missed", "lower"),
                (result.allowed_false_alarms, "no_obstacle", "max_false_alarm", "upper"),
            )
            if allowed < 0
        ]
        row.update(
            note="; ".join(too_few),
            searched=True,
            lower=result.lower,
            upper=result.upper,
            lower_rounded=result.lower_rounded,
            upper_rounded=result.upper_rounded,
            coverage=result.coverage,
            coverage_rounded=rounded.coverage,
            n_not_decided_rounded=rounded.n_not_decided,
            missed_rate_rounded=rounded.missed_rate,
            false_alarm_rate_rounded=rounded.false_alarm_rate,
            missed_rate_upper_rounded=rounded.missed_rate_upper,
            false_alarm_rate_upper_rounded=rounded.false_alarm_rate_upper,
            certified=rounded.certified,
            empirical_coverage_rounded=empirical.rounded.coverage,
        )
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(PER_SITE_COLUMNS))
    return table.astype({"n_not_decided_rounded": "Int64"})  # a count, empty for a site not searched


# --------------------------------------------------------------------------- sample-size advice


def sample_size_advice(n_images: int, max_rate: float, confidence: float) -> dict:
    """What one limit needs: images of its class in hand, how many it takes, the best limit they certify.

    For the two-rate statement at ``confidence`` (each bound at `side_confidence`): ``needed`` is the
    fewest images of the class with which no error still certifies ``max_rate`` (`required_samples`;
    every error allowed needs more), ``more_needed`` how many to label beyond ``images``, and
    ``best_limit`` the smallest limit ``images`` can certify at all (no error among them).
    """
    side = side_confidence(confidence)
    max_rate = _check_limit("max_rate", max_rate)
    needed = required_samples(max_rate, side) if max_rate > 0 else -1  # -1: a zero rate is never certified
    return {
        "images": int(n_images),
        "needed": int(needed),
        "more_needed": int(max(0, needed - n_images)) if needed >= 0 else -1,
        "best_limit": best_certifiable_rate(int(n_images), side),
    }
