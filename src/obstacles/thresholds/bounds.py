"""Exact binomial (Clopper-Pearson) bounds on an error rate, and the sample sizes they imply: pure math.

One helper pair, used by the certified search, the sample-size advice and the reports alike, so a
count that certifies a limit in one place certifies it everywhere:

- `upper_bound(errors, n, confidence)`: the one-sided Clopper-Pearson upper confidence bound on an
  error rate after ``errors`` errors among ``n`` images of a class;
- `max_allowed_errors(n, max_rate, confidence)`: the largest error count whose bound is still
  ``<= max_rate`` (-1 when even no error certifies it); computed once per class size, so the search
  never calls the bound per candidate threshold;
- `required_samples(max_rate, confidence, errors=0)`: the fewest images with which ``errors``
  errors still certify ``max_rate``.

``confidence`` here is the confidence of one bound on one rate. The certified threshold search
states two rates at once and splits ``1 - c`` between them (`side_confidence`).

The bound: with ``k`` errors among ``n`` independent images of a class with true error rate
``p``, the one-sided bound ``U(k) = Beta.ppf(confidence, k + 1, n - k)`` (``U(n) = 1``) is the
largest ``p`` with ``P(Binomial(n, p) <= k) >= 1 - confidence``. So ``U(k) <= max_rate`` exactly
when ``P(Binomial(n, max_rate) <= k) <= 1 - confidence``, and for every true rate above
``max_rate`` seeing so few errors has probability at most ``1 - confidence``: the bound is exact
(never below its confidence), not an approximation.
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache

from scipy.stats import beta

DEFAULT_CONFIDENCE = 0.95


def check_confidence(confidence: float) -> float:
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return confidence


def _check_rate(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a rate in [0, 1], got {value}")
    return value


def _check_count(name: str, value) -> int:
    try:
        count = operator.index(value)
    except TypeError:
        if isinstance(value, float) and value.is_integer():
            count = int(value)
        else:
            raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if count < 0:
        raise ValueError(f"{name} must be >= 0, got {count}")
    return count


def side_confidence(confidence: float) -> float:
    """Confidence of each of the two bounds so both hold at once with ``confidence`` (Bonferroni)."""
    return 1.0 - (1.0 - check_confidence(confidence)) / 2.0


def upper_bound(errors: int, n: int, confidence: float) -> float:
    """One-sided Clopper-Pearson upper confidence bound on a rate: ``errors`` errors among ``n`` images.

    ``n == 0`` (nothing observed) bounds nothing: 1.0.
    """
    errors, n, confidence = _check_count("errors", errors), _check_count("n", n), check_confidence(confidence)
    if errors > n:
        raise ValueError(f"{errors} errors among {n} images")
    if errors == n:
        return 1.0
    return float(beta.ppf(confidence, errors + 1, n - errors))


def _crossing(holds, low: int, high: int) -> tuple[int, int]:
    """(last, first): the adjacent integers in [low, high] where a monotone predicate changes value,
    given that it differs at low and at high (bisection: about log2(high - low) calls)."""
    at_low = holds(low)
    while high - low > 1:
        middle = (low + high) // 2
        if holds(middle) == at_low:
            low = middle
        else:
            high = middle
    return low, high


@lru_cache(maxsize=4096)
def _max_allowed_errors(n: int, max_rate: float, confidence: float) -> int:
    if upper_bound(n, n, confidence) <= max_rate:  # max_rate == 1: every count certifies it
        return n
    if n == 0 or upper_bound(0, n, confidence) > max_rate:
        return -1
    last, _ = _crossing(lambda errors: upper_bound(errors, n, confidence) <= max_rate, 0, n)  # grows with errors
    return last


def max_allowed_errors(n: int, max_rate: float, confidence: float) -> int:
    """Largest error count ``k`` among ``n`` images with ``upper_bound(k, n, confidence) <= max_rate``.

    -1 when not even zero errors certify ``max_rate`` (too few images): then only a threshold that
    can never make that error (deciding nothing on that side) meets the limit with that confidence.
    About log2(n) bound evaluations, cached per (n, max_rate, confidence).
    """
    return _max_allowed_errors(_check_count("n", n), _check_rate("max_rate", max_rate), check_confidence(confidence))


def required_samples(max_rate: float, confidence: float, errors: int = 0) -> int:
    """Fewest images of a class with which ``errors`` errors still certify ``max_rate`` at ``confidence``.

    The smallest ``n`` with ``upper_bound(errors, n, confidence) <= max_rate``: e.g. 299 obstacle
    images with no miss certify a missed rate of at most 1% at 95% (``(1 - 0.01) ** 299 <= 0.05``).
    ``confidence`` is that of this one rate; the threshold search, which states two rates at once,
    asks it at `side_confidence`. A rate of 0 is never certified by finitely many images (ValueError).
    """
    max_rate, confidence = _check_rate("max_rate", max_rate), check_confidence(confidence)
    errors = _check_count("errors", errors)
    if max_rate >= 1.0:
        return errors
    if max_rate <= 0.0:
        raise ValueError("a rate of 0 cannot be certified from finitely many images: set max_rate > 0")
    floor_n = max(errors, 1)  # n == errors bounds nothing (1.0)
    # the zero-error closed form is a lower bracket (more errors need more images); the bound falls as n grows
    low = max(floor_n, math.floor(math.log1p(-confidence) / math.log1p(-max_rate)) - 2)
    if upper_bound(errors, low, confidence) <= max_rate:  # only at the float edge of the closed form
        while low > floor_n and upper_bound(errors, low - 1, confidence) <= max_rate:
            low -= 1
        return low
    high = 2 * low
    while upper_bound(errors, high, confidence) > max_rate:
        low, high = high, 2 * high
    _, first = _crossing(lambda images: upper_bound(errors, images, confidence) <= max_rate, low, high)  # falls with n
    return first


def best_certifiable_rate(n: int, confidence: float) -> float:
    """The smallest limit ``n`` images of a class can certify: the bound with no error among them."""
    return upper_bound(0, _check_count("n", n), confidence)
