"""DeLong's test for two correlated ROC curves (DeLong, DeLong & Clarke-Pearson 1988), pure math.

Two scorers rated the same frames, so their AUROCs are correlated and an unpaired comparison would
waste that pairing. DeLong's AUROC is the Mann-Whitney statistic; its variance comes from each
frame's "structural component" (the share of the other class it is ranked correctly against), and
the covariance of the two scorers' components over the same frames gives the variance of the
difference. Sun & Xu (2014, IEEE Signal Processing Letters 21(11), "Fast implementation of DeLong's
algorithm...") obtain every component from three midrankings (within the obstacles, within the
no-obstacles, over all frames), so the test costs one sort per scorer, O(n log n), instead of the
O(n_obstacle * n_no_obstacle) pair table. Ties count one half, as in the AUROC.

Conventions: labels as everywhere (`obstacles.metrics.validate_predictions`: True / 1 / "obstacle"
is the positive class); a higher score means "more likely an obstacle"; the difference is
``challenger - champion``; the interval is the normal (Wald) interval, as pROC's `roc.test` gives.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from obstacles.metrics import validate_predictions

# Each class's structural components get a sample covariance (n - 1): two of each is the least
# that defines one. Whether that many frames say anything is the caller's `min_per_class`.
MIN_PER_CLASS = 2


class NotTestable(ValueError):
    """The two curves cannot be compared on these frames; the message says why."""


@dataclass(frozen=True)
class DeLongResult:
    """Both AUROCs, their difference (challenger - champion) with its standard error, the
    ``confidence`` interval, z and the two-sided p-value."""

    auroc_champion: float
    auroc_challenger: float
    difference: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p: float
    confidence: float
    n: int
    n_obstacle: int
    n_no_obstacle: int

    def to_dict(self) -> dict:
        return asdict(self)


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (Sun & Xu's midranks), one sort."""
    return stats.rankdata(values, method="average")


def structural_components(scores: np.ndarray, is_obstacle: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(AUROC, V10 per obstacle, V01 per no-obstacle) of one scorer.

    V10 of an obstacle: the share of no-obstacles scored below it (ties one half); V01 of a
    no-obstacle: the share of obstacles scored above it. Both average to the AUROC.
    """
    positives, negatives = scores[is_obstacle], scores[~is_obstacle]
    m, n = positives.size, negatives.size
    over_all = midranks(np.concatenate((positives, negatives)))
    v10 = (over_all[:m] - midranks(positives)) / n
    v01 = 1.0 - (over_all[m:] - midranks(negatives)) / m
    auroc = (over_all[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    return float(auroc), v10, v01


def auroc(scores, labels) -> float:
    """The AUROC by midranks (the same number as sklearn's `roc_auc_score`, in O(n log n))."""
    score_array, is_obstacle = validate_predictions(scores, labels, require_both_classes=True)
    return structural_components(score_array, is_obstacle)[0]


def delong_test(champion, challenger, labels, *, confidence: float = 0.95) -> DeLongResult:
    """DeLong's paired test of ``challenger``'s AUROC against ``champion``'s on the same frames.

    Raises NotTestable when fewer than `MIN_PER_CLASS` frames of a class are given, and when the
    difference has no spread although the AUROCs differ (no normal approximation applies); scores
    must be finite (a NaN is a ValueError naming it). Two scorers that rank every frame alike have a
    zero difference with zero spread: z 0, p 1, an interval of width 0.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    a, is_obstacle = validate_predictions(champion, labels)
    b, _ = validate_predictions(challenger, labels)
    n_obstacle = int(is_obstacle.sum())
    n_no_obstacle = int(is_obstacle.size - n_obstacle)
    if min(n_obstacle, n_no_obstacle) < MIN_PER_CLASS:
        raise NotTestable(
            f"{n_obstacle} obstacle and {n_no_obstacle} no_obstacle frame(s): DeLong's test needs at least "
            f"{MIN_PER_CLASS} of each"
        )
    auc_a, v10_a, v01_a = structural_components(a, is_obstacle)
    auc_b, v10_b, v01_b = structural_components(b, is_obstacle)
    s10 = np.cov(np.vstack((v10_a, v10_b)))  # 2 x 2, n - 1
    s01 = np.cov(np.vstack((v01_a, v01_b)))
    covariance = s10 / n_obstacle + s01 / n_no_obstacle
    variance = float(covariance[0, 0] + covariance[1, 1] - 2.0 * covariance[0, 1])
    difference = auc_b - auc_a
    # float noise: identical rankings give a variance of about -1e-18, not 0
    spread = math.sqrt(variance) if variance > np.finfo(float).eps else 0.0
    if spread == 0.0:
        if not math.isclose(difference, 0.0, abs_tol=np.finfo(float).eps):
            raise NotTestable(f"the AUROCs differ by {difference:.6g} but the difference has no spread on these frames")
        z, p = 0.0, 1.0
    else:
        z = difference / spread
        p = float(2.0 * stats.norm.sf(abs(z)))
    half = float(stats.norm.ppf(0.5 + confidence / 2.0)) * spread
    return DeLongResult(
        auroc_champion=auc_a,
        auroc_challenger=auc_b,
        difference=difference,
        se=spread,
        ci_low=difference - half,
        ci_high=difference + half,
        z=float(z),
        p=p,
        confidence=float(confidence),
        n=int(a.size),
        n_obstacle=n_obstacle,
        n_no_obstacle=n_no_obstacle,
    )
