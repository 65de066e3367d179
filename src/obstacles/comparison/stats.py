"""Is a difference between two configurations larger than the seed-to-seed spread? (pure math)

A configuration (obstacles.runs.key) is trained once per seed; per metric its results are
a mapping seed -> value. `summarize` gives n, mean, sample standard deviation (n - 1) and the
values; with fewer than 2 seeds the spread is None ("cannot be estimated"), never made up.

`compare` tests configuration B against configuration A (difference = B - A):

* **Paired t-test over the shared seeds**, when A and B share at least 2 seeds. The same seed
  means the same initialisation and data order, so what a seed does to both runs cancels in the
  per-seed differences d_s = B_s - A_s: t = mean(d) / (sd(d) / sqrt(n)), n - 1 degrees of
  freedom, two-sided p, confidence interval mean(d) +- t_{(1+c)/2, n-1} * sd(d) / sqrt(n).
  Seeds only one of them has are left out of the pairing.
* **Welch's t-test** (unequal variances, Welch-Satterthwaite degrees of freedom) over all
  seeds of each, when they share fewer than 2 seeds but each has at least 2.
* **No test** otherwise: a configuration with fewer than 2 seeds has no spread to compare against.

When the standard error is exactly 0 (every seed moved by the same amount, or no spread at all)
the t-statistic is not finite: p is 1 for a zero difference and 0 otherwise, noted as such.
`holm` adjusts the p-values of all pairs of one metric (Holm's step-down, family-wise error rate):
a difference is called larger than the seed noise when the adjusted p is below alpha. The t-tests
assume roughly normal per-seed values; with 3 seeds they see only large effects, so "within the
seed noise" means "not shown to differ", not "equal".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

PAIRED, WELCH, NO_TEST = "paired t-test", "Welch t-test", "none"
LARGER, WITHIN, NO_SPREAD = "larger than the seed noise", "within the seed noise", "no spread: fewer than 2 seeds"
TEST_DESCRIPTION = (
    "difference = B - A; paired t-test over the seeds both share (same seed = same initialisation and "
    "data order) when they share >= 2 seeds, else Welch's t-test when each has >= 2 seeds, else no test "
    "(no seed-to-seed spread can be estimated); two-sided p, Holm-adjusted over the pairs of a metric; "
    "'larger than the seed noise' when the adjusted p < alpha"
)

Values = Mapping[int, float]


@dataclass(frozen=True)
class Summary:
    """One configuration's results for one metric over its seeds."""

    n: int
    mean: float | None
    sd: float | None  # sample standard deviation (n - 1); None with fewer than 2 seeds
    values: dict[int, float]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairTest:
    """B against A for one metric."""

    test: str  # PAIRED, WELCH or NO_TEST
    n_a: int
    n_b: int
    n_shared: int
    difference: float | None  # B - A: mean per-seed difference (paired), else difference of means
    ci_low: float | None
    ci_high: float | None
    t: float | None
    df: float | None
    p_value: float | None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _clean(values: Values) -> dict[int, float]:
    return {seed: float(v) for seed, v in values.items() if v is not None and math.isfinite(float(v))}


def summarize(values: Values) -> Summary:
    """n, mean, sample sd (None below 2 seeds) and the per-seed values (missing/NaN left out)."""
    clean = _clean(values)
    array = np.array(list(clean.values()), dtype=float)
    mean = float(array.mean()) if array.size else None
    sd = float(array.std(ddof=1)) if array.size >= 2 else None
    return Summary(int(array.size), mean, sd, dict(sorted(clean.items())))


def _t_result(test, n_a, n_b, n_shared, difference, se, df, confidence, note="") -> PairTest:
    """p and confidence interval of a t statistic difference / se with df degrees of freedom."""
    if se == 0:
        p = 1.0 if difference == 0 else 0.0
        note = note or "zero standard error: every seed gave the same difference"
        return PairTest(test, n_a, n_b, n_shared, difference, difference, difference, None, df, p, note)
    t = difference / se
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    p = float(2 * stats.t.sf(abs(t), df))
    return PairTest(test, n_a, n_b, n_shared, difference, difference - half, difference + half, t, df, p, note)


def paired_t(a: Values, b: Values, confidence: float = 0.95) -> PairTest:
    """Paired t-test of B - A over the seeds both have (needs at least 2 of them)."""
    a, b = _clean(a), _clean(b)
    shared = sorted(set(a) & set(b))
    if len(shared) < 2:
        raise ValueError(f"a paired t-test needs >= 2 shared seeds, got {shared}")
    d = np.array([b[s] - a[s] for s in shared])
    n = d.size
    return _t_result(PAIRED, len(a), len(b), n, float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)), n - 1, confidence)


def welch_t(a: Values, b: Values, confidence: float = 0.95) -> PairTest:
    """Welch's unequal-variance t-test of mean(B) - mean(A) (needs at least 2 seeds each)."""
    a, b = _clean(a), _clean(b)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"Welch's t-test needs >= 2 seeds per configuration, got {len(a)} and {len(b)}")
    xa, xb = np.array(list(a.values())), np.array(list(b.values()))
    va, vb = xa.var(ddof=1) / xa.size, xb.var(ddof=1) / xb.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (xa.size - 1) + vb**2 / (xb.size - 1)) if se > 0 else float(xa.size + xb.size - 2)
    shared = len(set(a) & set(b))
    return _t_result(WELCH, xa.size, xb.size, shared, float(xb.mean() - xa.mean()), se, float(df), confidence)


def compare(a: Values, b: Values, confidence: float = 0.95) -> PairTest:
    """B against A: paired over >= 2 shared seeds, else Welch, else no test (see the module doc)."""
    a, b = _clean(a), _clean(b)
    if len(set(a) & set(b)) >= 2:
        return paired_t(a, b, confidence)
    if len(a) >= 2 and len(b) >= 2:
        return welch_t(a, b, confidence)
    difference = float(np.mean(list(b.values())) - np.mean(list(a.values()))) if a and b else None
    note = f"{len(a)} and {len(b)} seeds: no seed-to-seed spread can be estimated"
    return PairTest(NO_TEST, len(a), len(b), len(set(a) & set(b)), difference, None, None, None, None, None, note)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None and does not count as a test)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    running, m = 0.0, len(tested)
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(p_adjusted: float | None, alpha: float) -> str:
    if p_adjusted is None:
        return NO_SPREAD
    return LARGER if p_adjusted < alpha else WITHIN
