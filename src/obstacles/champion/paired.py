"""The rest of the paired comparison's math (pure, no files): the bootstrap interval of the
coverage difference, the frames a difference would need, and the verdict in words.

**Coverage difference.** Coverage is the share of frames a model decides at the deployment limits
with its own threshold pair (`obstacles.thresholds.find_thresholds`). It has no closed-form
variance (the pair is searched on the same frames), so it is bootstrapped, paired: each resample
draws frames with replacement, the same frames for both models, searches both pairs again on it and
takes the difference (challenger - champion). The interval is the percentile interval of those
differences. Resamples that lose a class cannot be searched and are left out (counted). Each
resample runs two searches, O(n log n) each; `resamples` (config, e.g. 200) trades the interval's
Monte-Carlo noise (its ends move by a few per cent of its width at 200) against time.

**Frames needed.** The DeLong z of a difference grows with the square root of the number of frames
at a fixed case mix (the standard error falls as 1/sqrt(n)). To be declared at two-sided level
``alpha`` with probability ``power`` a true difference of the observed size needs
``z(n') = z_{1-alpha/2} + z_{power}``, hence ``n' = n * ((z_{1-alpha/2} + z_{power}) / z)^2``. It is a
rough figure: the observed difference and its spread are themselves estimates.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from obstacles.thresholds import find_thresholds

BETTER, WORSE, NOT_DISTINGUISHABLE, NOT_TESTABLE = "better", "worse", "not distinguishable", "cannot be tested"
# champion.json holds numbers only: the verdict as a number (the words are in the provenance file)
VERDICT_CODES = {BETTER: 1, NOT_DISTINGUISHABLE: 0, WORSE: -1, NOT_TESTABLE: 0}


@dataclass(frozen=True)
class Limits:
    """The deployment limits and how a pair is searched at them (conf/thresholds.yaml's values)."""

    max_missed: float
    max_false_alarm: float
    confidence: float | None  # None: the empirical optimum
    decimals: int
    epsilon: float
    rounded: bool  # coverage at the deployable (rounded) pair, else at the exact one

    def coverage(self, scores: np.ndarray, is_obstacle: np.ndarray) -> float:
        result = find_thresholds(
            scores,
            is_obstacle,
            max_missed=self.max_missed,
            max_false_alarm=self.max_false_alarm,
            confidence=self.confidence,
            decimals=self.decimals,
            epsilon=self.epsilon,
        )
        return float(result.rounded.coverage if self.rounded else result.coverage)


@dataclass(frozen=True)
class BootstrapInterval:
    """Percentile interval of a paired bootstrap of a difference (challenger - champion)."""

    difference: float  # on the frames themselves
    ci_low: float | None  # None: too few resamples could be searched
    ci_high: float | None
    confidence: float
    resamples: int
    resamples_used: int  # those that kept both classes
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)


def coverage_difference(
    champion: np.ndarray,
    challenger: np.ndarray,
    is_obstacle: np.ndarray,
    limits: Limits,
    *,
    resamples: int,
    confidence: float,
    seed: int,
) -> BootstrapInterval:
    """Coverage difference on the frames and its paired bootstrap percentile interval.

    Raises ValueError (from the search) when the frames themselves lack a class or hold a NaN.
    The interval is None when fewer than half of the resamples kept both classes.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    champion, challenger = np.asarray(champion, dtype=np.float64), np.asarray(challenger, dtype=np.float64)
    is_obstacle = np.asarray(is_obstacle, dtype=bool)
    observed = limits.coverage(challenger, is_obstacle) - limits.coverage(champion, is_obstacle)
    rng = np.random.default_rng(seed)
    n = is_obstacle.size
    differences = []
    for _ in range(resamples):
        index = rng.integers(0, n, n)
        labels = is_obstacle[index]
        if labels.all() or not labels.any():
            continue
        differences.append(limits.coverage(challenger[index], labels) - limits.coverage(champion[index], labels))
    low = high = None
    if 2 * len(differences) >= resamples:
        tail = 50.0 * (1.0 - confidence)
        low, high = (float(v) for v in np.percentile(differences, [tail, 100.0 - tail]))
    return BootstrapInterval(
        difference=float(observed),
        ci_low=low,
        ci_high=high,
        confidence=float(confidence),
        resamples=int(resamples),
        resamples_used=len(differences),
        seed=int(seed),
    )


def frames_needed(n: int, z: float, *, alpha: float, power: float) -> int | None:
    """Frames at which a true difference of the observed size is declared at two-sided ``alpha``
    with probability ``power`` (module docstring); None when there is no difference (z = 0)."""
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha}, {power}")
    if z == 0.0 or not math.isfinite(z):
        return None
    target = float(stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power))
    return int(math.ceil(n * (target / z) ** 2))


def verdict(difference: float, p: float, alpha: float) -> str:
    """better / worse when the two-sided p is below alpha (by the difference's sign), else not
    distinguishable."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if p < alpha:
        return BETTER if difference > 0 else WORSE
    return NOT_DISTINGUISHABLE


def verdict_in_words(name: str, n: int, reason: str | None = None) -> str:
    """The verdict as the reports say it: "not distinguishable with 93 frames", "cannot be tested: ..."."""
    if name == NOT_DISTINGUISHABLE:
        return f"{NOT_DISTINGUISHABLE} with {n} frames"
    if name == NOT_TESTABLE:
        return f"{NOT_TESTABLE}: {reason}" if reason else NOT_TESTABLE
    return name
