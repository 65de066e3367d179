"""The two deployment thresholds (DESIGN section 5): exactness against brute force, rounding, CLI."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta, binom

from obstacles.commands import thresholds as thresholds_command
from obstacles.infra.config import compose, tool_settings
from obstacles.io.outputs import atomic_output
from obstacles.io.predictions import read_predictions
from obstacles.thresholds import (
    coverage_sweep,
    find_thresholds,
    limit_grid,
    max_allowed_errors,
    required_samples,
    search_per_site,
    upper_bound,
)
from tests.helpers.commands import offline_wandb, run_module
from tests.helpers.project import metric_leaves

pytestmark = pytest.mark.long  # scheduled first (tests/conftest.py)

LIMITS = (0.0, 0.01, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 1.0)


def random_case(rng):
    n = int(rng.integers(2, 40))
    levels = int(rng.integers(2, 25))
    is_obstacle = rng.random(n) < rng.uniform(0.2, 0.8)
    is_obstacle[rng.integers(n)] = True
    is_obstacle[rng.integers(n)] = False
    if is_obstacle.all() or not is_obstacle.any():
        is_obstacle[0] = not is_obstacle[0]
    scores = np.round(np.clip(np.where(is_obstacle, 0.2, -0.2) + rng.normal(0.5, 0.25, n), 0, 1) * levels) / levels
    return scores, is_obstacle


def brute_force(scores, is_obstacle, max_missed, max_false_alarm):
    """Every pair of candidates (each distinct score, and below every score), the rule applied directly."""
    candidates = np.concatenate([[scores.min() - 1.0], np.unique(scores)])
    n_obs, n_no = is_obstacle.sum(), (~is_obstacle).sum()
    best = None
    for i, lower in enumerate(candidates):
        for upper in candidates[i:]:
            as_no = scores <= lower
            as_obs = scores > upper
            missed = (is_obstacle & as_no).sum() / n_obs
            false_alarm = (~is_obstacle & as_obs).sum() / n_no
            if missed > max_missed or false_alarm > max_false_alarm:
                continue
            not_decided = int((~as_no & ~as_obs).sum())
            correct = int((is_obstacle & as_obs).sum() + (~is_obstacle & as_no).sum())
            key = (not_decided, -correct, lower)  # fewest undecided, then most accurate, then lowest
            if best is None or key < best[0]:
                best = (key, lower, upper)
    return best


def test_exact_optimum_matches_brute_force_on_many_small_cases_with_ties():
    rng = np.random.default_rng(2024)
    singles = 0
    for case in range(400):
        scores, is_obstacle = random_case(rng)
        max_missed = float(rng.choice(LIMITS)) if case % 2 else float(rng.uniform(0, 0.4))
        max_false_alarm = float(rng.choice(LIMITS)) if case % 3 else float(rng.uniform(0, 0.4))
        result = find_thresholds(scores, is_obstacle, max_missed=max_missed, max_false_alarm=max_false_alarm)
        (not_decided, negative_correct, _), lower, upper = brute_force(scores, is_obstacle, max_missed, max_false_alarm)
        context = f"case {case}: {scores.tolist()} {is_obstacle.astype(int).tolist()} {max_missed} {max_false_alarm}"
        assert result.n_not_decided == not_decided, context
        assert result.single_threshold == (not_decided == 0), context
        assert result.missed_rate <= max_missed and result.false_alarm_rate <= max_false_alarm, context
        assert result.lower <= result.upper
        if result.single_threshold:
            singles += 1
            assert result.lower == result.upper and result.tp + result.tn == -negative_correct, context
            if lower >= scores.min():
                assert result.lower == lower, context
            else:  # "below every score": any value under the minimum is the same threshold
                assert result.lower < scores.min(), context
        else:
            assert result.upper == upper, context
            assert result.lower == lower if lower >= scores.min() else result.lower < scores.min(), context
        check_counts(result, scores, is_obstacle)
        check_rounding(result, scores, is_obstacle)
    assert 20 < singles < 380  # both branches exercised


def check_counts(result, scores, is_obstacle):
    as_no, as_obs = scores <= result.lower, scores > result.upper
    assert result.tn == (~is_obstacle & as_no).sum() and result.fn == (is_obstacle & as_no).sum()
    assert result.tp == (is_obstacle & as_obs).sum() and result.fp == (~is_obstacle & as_obs).sum()
    assert result.n_decided == (as_no | as_obs).sum() == result.n - result.n_not_decided
    assert result.coverage == pytest.approx(result.n_decided / result.n)
    correct = result.tp + result.tn
    assert result.accuracy_decided == pytest.approx(correct / result.n_decided if result.n_decided else 0.0)


def check_rounding(result, scores, is_obstacle):
    """Rounded values are on the 2-decimal grid, outward (up to float noise), and still meet the limits."""
    rounded = result.rounded
    for value in (result.lower_rounded, result.upper_rounded):
        assert value == round(value, 2)
    assert result.lower_rounded <= result.upper_rounded
    # outward: the rounded pair decides a subset of what the exact pair decides
    assert ((scores <= result.lower_rounded) <= (scores <= result.lower)).all()
    assert ((scores > result.upper_rounded) <= (scores > result.upper)).all()
    assert result.lower - result.lower_rounded < 0.01 + 1e-12 or result.lower < scores.min()
    assert result.upper_rounded - result.upper < 0.01 + 1e-12
    assert rounded.missed_rate <= result.max_missed and rounded.false_alarm_rate <= result.max_false_alarm
    assert rounded.fn == (is_obstacle & (scores <= result.lower_rounded)).sum()
    assert rounded.fp == (~is_obstacle & (scores > result.upper_rounded)).sum()


def test_single_threshold_when_one_value_meets_both_limits():
    scores = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    labels = ["no_obstacle"] * 4 + ["obstacle"] * 4
    result = find_thresholds(scores, labels)
    assert result.single_threshold
    assert result.lower == result.upper == 0.4
    assert (result.coverage, result.accuracy_decided, result.n_not_decided) == (1.0, 1.0, 0)
    assert result.lower_rounded == result.upper_rounded == 0.4


def test_single_threshold_picks_the_most_accurate_feasible_value():
    # Generous limits: every threshold in [0.2, 0.7] is feasible; 0.45 separates best.
    scores = np.array([0.1, 0.2, 0.3, 0.45, 0.5, 0.6, 0.7, 0.8])
    is_obstacle = np.array([0, 0, 0, 0, 1, 1, 0, 1], dtype=bool)
    result = find_thresholds(scores, is_obstacle, max_missed=0.5, max_false_alarm=0.5)
    assert result.single_threshold and result.lower == result.upper == 0.45
    assert result.tp + result.tn == 7


def test_rounding_keeps_exact_two_decimal_values_despite_float_representation():
    # Exact lower and upper are 0.29 (stored as 0.28999999999999998): floor must not give 0.28.
    scores = [0.1, 0.29, 0.3, 0.5, 0.9]
    result = find_thresholds(scores, [0, 0, 1, 1, 1], max_missed=0.0, max_false_alarm=0.0)
    assert result.lower == result.upper == 0.29
    assert (result.lower_rounded, result.upper_rounded) == (0.29, 0.29)


def test_rounding_never_crosses_an_image_for_float_slack():
    # lower just under 0.30 with an obstacle at 0.30: rounding lower "to 0.30" would miss it.
    scores = [0.1, 0.3 - 1e-12, 0.3, 0.7 + 1e-12, 0.9]
    result = find_thresholds(scores, [0, 0, 1, 0, 1], max_missed=0.0, max_false_alarm=0.0)
    assert (result.lower, result.upper) == (0.3 - 1e-12, 0.7 + 1e-12)
    assert (result.lower_rounded, result.upper_rounded) == (0.29, 0.71)
    assert result.rounded.missed_rate == 0.0 and result.rounded.false_alarm_rate == 0.0


def test_lower_can_decide_nothing():
    # Every score has an obstacle: with max_missed 0 no image may be called no_obstacle.
    result = find_thresholds([0.0, 0.0, 0.5, 0.5, 1.0], [1, 0, 1, 0, 1], max_missed=0.0, max_false_alarm=0.0)
    assert result.lower < 0.0 and result.fn == result.tn == 0
    assert result.lower_rounded == -0.01 and result.rounded.tn == result.rounded.fn == 0
    assert result.upper == 0.5 and result.tp == 1  # only the obstacle at 1.0 is decided


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2, 0.3], [0, 0, 0], "no obstacle images"),
        ([0.1, 0.2, 0.3], ["obstacle"] * 3, "no no_obstacle images"),
        ([0.1, float("nan"), 0.3], [0, 1, 1], r"NaN/inf value\(s\); first at index 1"),
        ([0.1, 0.2], ["obstacle", "maybe"], "unknown label 'maybe'"),
        ([0.1, 1.7, 0.3], [0, 1, 1], r"probabilities in \[0, 1\]: 1 outside, first at index 1 \(1.7\)"),
        ([-0.2, 0.5], [0, 1], r"probabilities in \[0, 1\]: 1 outside, first at index 0"),
    ],
)
def test_bad_inputs_are_named(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        find_thresholds(scores, labels)


@pytest.mark.parametrize("limits", [{"max_missed": -0.1}, {"max_false_alarm": 1.5}])
def test_limits_out_of_range_are_rejected(limits):
    with pytest.raises(ValueError, match="must be a rate"):
        find_thresholds([0.1, 0.9], [0, 1], **limits)


def test_coverage_sweep_equals_find_thresholds_per_cell():
    rng = np.random.default_rng(5)
    scores, is_obstacle = random_case(rng)
    scores = np.concatenate([scores, rng.random(500).round(3)])
    is_obstacle = np.concatenate([is_obstacle, rng.random(500) < scores[-500:]])
    grid = limit_grid([0.005, 0.05, 0.2], [0.01, 0.1])
    sweep = coverage_sweep(scores, is_obstacle, grid)
    assert len(sweep) == 6 and {"max_missed", "max_false_alarm", "lower", "upper", "coverage"} <= set(sweep)
    for row in sweep.itertuples():
        result = find_thresholds(scores, is_obstacle, max_missed=row.max_missed, max_false_alarm=row.max_false_alarm)
        assert (row.lower, row.upper, row.coverage, row.accuracy_decided) == (
            result.lower,
            result.upper,
            result.coverage,
            result.accuracy_decided,
        )
        assert row.coverage_rounded == result.rounded.coverage
    assert len(coverage_sweep(scores, is_obstacle)) == len(limit_grid())


def test_a_million_predictions_is_fast_and_json_ready():
    rng = np.random.default_rng(0)
    n = 10**6
    is_obstacle = rng.random(n) < 0.4
    scores = np.round(np.where(is_obstacle, rng.beta(5, 2, n), rng.beta(2, 5, n)), 4)
    start = time.perf_counter()
    result = find_thresholds(scores, is_obstacle)
    assert time.perf_counter() - start < 10.0  # sanity bound only: about 0.05 s on one core
    assert result.n == n and 0 < result.coverage < 1
    # optimal: one distinct score further out on either side would break its limit
    distinct = np.unique(scores)
    next_lower = distinct[np.searchsorted(distinct, result.lower, side="right")]
    previous_upper = distinct[np.searchsorted(distinct, result.upper, side="left") - 1]
    assert (is_obstacle & (scores <= next_lower)).sum() / is_obstacle.sum() > 0.01
    assert (~is_obstacle & (scores > previous_upper)).sum() / (~is_obstacle).sum() > 0.05
    json.dumps(result.to_dict(), allow_nan=False)


def test_atomic_output_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "thresholds.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["thresholds.json"]


# --------------------------------------------------------------------------- certified mode

CERTIFIED_LIMITS = (0.0, 0.05, 0.1, 0.2, 0.3, 1 / 3, 0.5, 0.7, 1.0)
CONFIDENCES = (0.7, 0.8, 0.9, 0.95)


def certifies(errors: int, n: int, limit: float, confidence: float, never_errs: bool):
    """The bound rule written the other way round (binomial tail, not the Beta quantile the code uses):
    True, False, or None when the tail sits on the level (too close to call in floating point)."""
    if never_errs or limit >= 1.0:
        return True
    tail, level = binom.cdf(errors, n, limit), (1 - confidence) / 2
    if abs(tail - level) < 1e-9:
        return None
    return bool(tail <= level)


def brute_force_certified(scores, is_obstacle, max_missed, max_false_alarm, confidence):
    """Every pair of candidates, each pair's two counts tested by the bound rule directly; fewest undecided
    wins, then most accurate. Candidates: under 0 (never calls no_obstacle), just under every score, each
    distinct score, and 1.0 (never calls obstacle)."""
    distinct = np.unique(scores)
    lowers = np.concatenate([[-0.5, distinct[0] - 1e-9], distinct])
    uppers = np.concatenate([lowers, [1.0]])
    n_obs, n_no = int(is_obstacle.sum()), int((~is_obstacle).sum())
    best = None
    for lower in lowers:
        as_no = scores <= lower
        missed_ok = certifies(int((is_obstacle & as_no).sum()), n_obs, max_missed, confidence, lower < 0)
        if missed_ok is None:
            return "tie"
        for upper in uppers[uppers >= lower]:
            as_obs = scores > upper
            false_alarm_ok = certifies(
                int((~is_obstacle & as_obs).sum()), n_no, max_false_alarm, confidence, upper >= 1.0
            )
            if false_alarm_ok is None:
                return "tie"
            if not (missed_ok and false_alarm_ok):
                continue
            correct = int((is_obstacle & as_obs).sum() + (~is_obstacle & as_no).sum())
            key = (int((~as_no & ~as_obs).sum()), -correct)
            if best is None or key < best:
                best = key
    return best


def check_bounds(decisions, scores, is_obstacle, confidence):
    """Both bounds are the one-sided Clopper-Pearson bounds at 1 - (1 - c) / 2 of the counts (0 when that side
    can never err), and ``certified`` says whether both meet their limits."""
    side = 1 - (1 - confidence) / 2
    fn = int((is_obstacle & (scores <= decisions.lower)).sum())
    fp = int((~is_obstacle & (scores > decisions.upper)).sum())
    n_obs, n_no = int(is_obstacle.sum()), int((~is_obstacle).sum())
    cp = lambda k, n: 1.0 if k == n else beta.ppf(side, k + 1, n - k)  # noqa: E731
    assert decisions.missed_rate_upper == pytest.approx(0.0 if decisions.lower < 0 else cp(fn, n_obs), abs=1e-12)
    assert decisions.false_alarm_rate_upper == pytest.approx(0.0 if decisions.upper >= 1 else cp(fp, n_no), abs=1e-12)
    assert decisions.confidence == confidence


def test_certified_optimum_matches_brute_force_over_all_pairs_with_the_bound_rule():
    rng = np.random.default_rng(11)
    kinds = {"both sides decide": 0, "a side decides nothing": 0, "single": 0}
    ties = 0
    for case in range(300):
        scores, is_obstacle = random_case(rng)
        if case % 4 == 0:  # scores at the ends of the range: below-range and above-range values must stay out of it
            scores = np.where(rng.random(scores.size) < 0.2, rng.choice([0.0, 1.0], scores.size), scores)
        confidence = float(rng.choice(CONFIDENCES))
        max_missed = float(rng.choice(CERTIFIED_LIMITS)) if case % 2 else float(rng.uniform(0, 0.8))
        max_false_alarm = float(rng.choice(CERTIFIED_LIMITS)) if case % 3 else float(rng.uniform(0, 0.8))
        expected = brute_force_certified(scores, is_obstacle, max_missed, max_false_alarm, confidence)
        if expected == "tie":
            ties += 1
            continue
        result = find_thresholds(
            scores, is_obstacle, max_missed=max_missed, max_false_alarm=max_false_alarm, confidence=confidence
        )
        context = (
            f"case {case}: {scores.tolist()} {is_obstacle.astype(int).tolist()} {max_missed} {max_false_alarm}"
            f" {confidence}"
        )
        assert expected is not None, "deciding nothing is always certifiable: " + context
        not_decided, negative_correct = expected
        assert result.n_not_decided == not_decided, context
        assert result.tp + result.tn == -negative_correct, context
        assert result.certified_search and result.certified and result.rounded.certified, context
        assert result.missed_rate_upper <= max_missed and result.false_alarm_rate_upper <= max_false_alarm, context
        check_counts(result, scores, is_obstacle)
        check_rounding(result, scores, is_obstacle)
        for decisions in (result, result.rounded):  # bounds re-checked at the rounded values too
            check_bounds(decisions, scores, is_obstacle, confidence)
        # what the side that decides nothing does on any frame: lower under 0, upper at 1
        if result.allowed_missed < 0:
            assert result.lower < 0 and result.lower_rounded < 0 and result.fn == result.tn == 0, context
        if result.allowed_false_alarms < 0:
            assert result.upper >= 1 and result.upper_rounded >= 1 and result.fp == result.tp == 0, context
        if result.single_threshold:
            kinds["single"] += 1
        elif result.allowed_missed < 0 or result.allowed_false_alarms < 0:
            kinds["a side decides nothing"] += 1
        else:
            kinds["both sides decide"] += 1
    assert ties < 10 and all(count >= 15 for count in kinds.values()), (kinds, ties)


def test_certified_mode_always_has_an_answer():
    # 3 obstacles and 3 no_obstacle images certify nothing at 1% / 5%: every frame goes to a person
    scores, labels = [0.0, 0.1, 0.2, 0.8, 0.9, 1.0], [0, 0, 0, 1, 1, 1]
    result = find_thresholds(scores, labels, confidence=0.95)
    assert (result.allowed_missed, result.allowed_false_alarms) == (-1, -1)
    assert result.lower < 0.0 and result.upper == 1.0 and result.coverage == 0.0 and result.n_not_decided == 6
    assert (result.lower_rounded, result.upper_rounded) == (-0.01, 1.0)  # a new frame at exactly 0.0 stays undecided
    assert result.certified and result.missed_rate_upper == result.false_alarm_rate_upper == 0.0
    # limits of 0 are never certified by data either, whatever the confidence
    zero = find_thresholds(
        np.linspace(0, 1, 500), np.arange(500) % 2, max_missed=0.0, max_false_alarm=0.0, confidence=0.5
    )
    assert zero.coverage == 0.0 and zero.certified
    # the empirical optimum of the same data decides everything and is not certified
    empirical = find_thresholds(scores, labels)
    assert empirical.coverage == 1.0 and not empirical.certified and not empirical.certified_search


def test_empirical_mode_reports_bounds_at_the_reporting_confidence():
    rng = np.random.default_rng(3)
    is_obstacle = rng.random(3000) < 0.5
    scores = np.where(is_obstacle, rng.beta(5, 2, 3000), rng.beta(2, 5, 3000))
    for report_confidence in (0.95, 0.8):
        result = find_thresholds(
            scores, is_obstacle, max_missed=0.05, max_false_alarm=0.1, report_confidence=report_confidence
        )
        assert not result.certified_search and result.confidence == report_confidence
        assert result.missed_rate <= 0.05 < result.missed_rate_upper  # at the empirical optimum the bound overshoots
        assert not result.certified and not result.rounded.certified
        for decisions in (result, result.rounded):
            check_bounds(decisions, scores, is_obstacle, report_confidence)
    certified = find_thresholds(scores, is_obstacle, max_missed=0.05, max_false_alarm=0.1, confidence=0.95)
    assert certified.certified and 0 < certified.coverage < result.coverage  # what the guarantee costs
    assert certified.missed_rate_upper <= 0.05 and certified.false_alarm_rate_upper <= 0.1


def test_certified_mode_on_a_million_predictions_is_within_three_times_the_empirical_search():
    rng = np.random.default_rng(0)
    n = 10**6
    is_obstacle = rng.random(n) < 0.4
    scores = np.where(is_obstacle, rng.beta(5, 2, n), rng.beta(2, 5, n))

    def best_of(confidence, repeats=5):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = find_thresholds(scores, is_obstacle, confidence=confidence)
            times.append(time.perf_counter() - start)
        return min(times), result

    find_thresholds(scores[:1000], is_obstacle[:1000], confidence=0.95)  # imports warm
    empirical_s, empirical = best_of(None)
    certified_s, certified = best_of(0.95)
    assert certified.certified and certified.coverage < empirical.coverage
    assert certified_s < 3 * empirical_s, (certified_s, empirical_s)


def test_required_samples_is_the_clopper_pearson_sample_size():
    assert required_samples(0.01, 0.95) == 299 == int(np.ceil(np.log(0.05) / np.log(0.99)))
    assert required_samples(0.05, 0.95) == 59 and required_samples(0.01, 0.975) == 368
    for max_rate, confidence, errors in [
        (0.01, 0.95, 1),
        (0.01, 0.95, 5),
        (0.05, 0.9, 3),
        (0.2, 0.99, 7),
        (0.001, 0.95, 2),
        (0.3, 0.5, 0),
        (0.5, 0.975, 10),
    ]:
        n = required_samples(max_rate, confidence, errors)
        # `errors` errors among n certify the rate; among n - 1 they do not (binomial tail, scipy)
        assert binom.cdf(errors, n, max_rate) <= 1 - confidence < binom.cdf(errors, n - 1, max_rate)
        assert upper_bound(errors, n, confidence) <= max_rate < upper_bound(errors, n - 1, confidence)
        assert max_allowed_errors(n, max_rate, confidence) >= errors > max_allowed_errors(n - 1, max_rate, confidence)
    assert required_samples(1.0, 0.95, 3) == 3
    with pytest.raises(ValueError, match="a rate of 0 cannot be certified"):
        required_samples(0.0, 0.95)
    with pytest.raises(ValueError, match="confidence must be in"):
        required_samples(0.01, 1.0)


def test_max_allowed_errors_is_the_largest_count_the_binomial_tail_allows():
    for n, max_rate, confidence in [
        (1, 0.5, 0.9),
        (46, 0.01, 0.975),
        (53, 0.05, 0.975),
        (400, 0.05, 0.95),
        (1000, 0.1, 0.99),
        (5000, 0.02, 0.975),
        (20, 1.0, 0.95),
        (20, 0.0, 0.95),
    ]:
        counts = np.arange(n + 1)
        allowed = counts[binom.cdf(counts, n, max_rate) <= 1 - confidence]
        expected = n if max_rate >= 1 else (int(allowed.max()) if allowed.size else -1)
        assert max_allowed_errors(n, max_rate, confidence) == expected, (n, max_rate, confidence)


def draw_eval_set(rng, n_obstacle, n_no_obstacle):
    scores = np.concatenate([rng.beta(5, 2, n_obstacle), rng.beta(2, 5, n_no_obstacle)])
    return scores, np.arange(scores.size) < n_obstacle


def test_simulated_break_frequency_certified_within_one_minus_c_empirical_about_half():
    """Evaluation sets drawn from known score distributions; the true rates of each set's thresholds come
    from the distributions, not from the data. Certified: both limits hold in at least c of the draws;
    the empirical optimum breaks one in about half of them."""
    rng = np.random.default_rng(2026)
    draws, n_per_class, limit, confidence = 400, 300, 0.1, 0.9
    broken = {"certified": np.zeros((draws, 2), bool), "empirical": np.zeros((draws, 2), bool)}
    coverage = {"certified": [], "empirical": []}
    for draw in range(draws):
        scores, is_obstacle = draw_eval_set(rng, n_per_class, n_per_class)
        for mode, c in (("certified", confidence), ("empirical", None)):
            result = find_thresholds(scores, is_obstacle, max_missed=limit, max_false_alarm=limit, confidence=c)
            true_missed = beta.cdf(result.lower, 5, 2) if result.lower >= 0 else 0.0
            true_false_alarm = beta.sf(result.upper, 2, 5)
            broken[mode][draw] = (true_missed > limit, true_false_alarm > limit)
            coverage[mode].append(
                0.5 * (beta.cdf(result.lower, 5, 2) + beta.cdf(result.lower, 2, 5))
                + 0.5 * (beta.sf(result.upper, 5, 2) + beta.sf(result.upper, 2, 5))
            )
    # exact per-side break probability of the construction: P(Binomial(n, limit) <= k*) <= (1 - c) / 2
    k = max_allowed_errors(n_per_class, limit, 1 - (1 - confidence) / 2)
    per_side = binom.cdf(k, n_per_class, limit)
    assert per_side <= (1 - confidence) / 2
    slack = 3 * np.sqrt(0.1 * 0.9 / draws)
    certified_any = broken["certified"].any(axis=1).mean()
    assert certified_any <= 1 - confidence + slack
    assert (broken["certified"].mean(axis=0) <= per_side + slack).all()
    empirical_side = broken["empirical"].mean(axis=0)
    assert (empirical_side > 0.35).all() and (empirical_side < 0.75).all()  # about half, each side
    assert broken["empirical"].any(axis=1).mean() > 0.6
    assert np.mean(coverage["certified"]) < np.mean(coverage["empirical"])  # the coverage given up


def test_per_site_table_is_the_same_search_on_each_site():
    rng = np.random.default_rng(8)
    n = 1500
    sites = rng.choice(["dock", "hall"], n)
    is_obstacle = rng.random(n) < 0.5
    scores = np.round(np.where(is_obstacle, rng.beta(6, 1.5, n), rng.beta(1.5, 6, n)), 3)
    sites = np.concatenate([sites, ["yard"] * 5])  # one class only: not searched
    is_obstacle = np.concatenate([is_obstacle, [False] * 5])
    scores = np.concatenate([scores, [0.1] * 5])
    table = search_per_site(scores, is_obstacle, sites, max_missed=0.02, max_false_alarm=0.05, confidence=0.95)
    assert table["site"].tolist() == ["dock", "hall", "yard"]
    for row in table.itertuples():
        mask = sites == row.site
        assert (row.n, row.n_obstacle, row.n_no_obstacle) == (
            mask.sum(),
            is_obstacle[mask].sum(),
            (~is_obstacle[mask]).sum(),
        )
        if row.site == "yard":
            assert not row.searched and not row.certified and np.isnan(row.lower)
            assert row.note == "no obstacle images: not searched"
            continue
        result = find_thresholds(
            scores[mask], is_obstacle[mask], max_missed=0.02, max_false_alarm=0.05, confidence=0.95
        )
        empirical = find_thresholds(scores[mask], is_obstacle[mask], max_missed=0.02, max_false_alarm=0.05)
        assert (row.lower, row.upper, row.lower_rounded, row.upper_rounded) == (
            result.lower,
            result.upper,
            result.lower_rounded,
            result.upper_rounded,
        )
        assert (row.coverage, row.coverage_rounded) == (result.coverage, result.rounded.coverage)
        assert row.missed_rate_upper_rounded == result.rounded.missed_rate_upper <= 0.02
        assert row.false_alarm_rate_upper_rounded == result.rounded.false_alarm_rate_upper <= 0.05
        assert row.certified and row.searched and row.empirical_coverage_rounded == empirical.rounded.coverage
        assert 0 < row.coverage_rounded < row.empirical_coverage_rounded


# --------------------------------------------------------------------------- CLI


def write_predictions(path: Path, n: int = 400, seed: int = 0, drop: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    is_obstacle = rng.random(n) < 0.4
    table = pd.DataFrame(
        {
            "path": [f"eval/img_{i}.jpg" for i in range(n)],
            "site": rng.choice(["office", "plant"], n),
            "label": np.where(is_obstacle, "obstacle", "no_obstacle"),
            "score": np.round(np.where(is_obstacle, rng.beta(5, 2, n), rng.beta(2, 5, n)), 3),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    table.drop(columns=[drop] if drop else []).to_csv(path, index=False)
    return table


def search(tmp_path: Path, *overrides: str) -> dict:
    """The thresholds command's `run(cfg)` in this process, W&B offline and kept inside tmp_path."""
    with offline_wandb(tmp_path):
        return thresholds_command.run(compose("thresholds", list(overrides)))


def test_cli_end_to_end_writes_outputs_and_logs_the_sweep_to_wandb(tmp_path):
    run_dir = tmp_path / "experiments" / "001.demo.test"
    predictions = run_dir / "predictions.csv"
    table = write_predictions(predictions)
    (run_dir / "metrics.provenance.json").write_text(  # what the evaluation writes beside its metrics.json
        json.dumps(
            {"checkpoint": "checkpoints/best.ckpt", "dataset": {"manifest_sha256": "ab12"}, "wandb_run_id": "trainrun1"}
        )
    )
    (run_dir / "metrics.json").write_text(json.dumps({"auroc": 0.9, "n": 400}))
    run_module(
        tmp_path,
        "obstacles.commands.thresholds",
        f"predictions={predictions}",
        "limits.max_false_alarm=0.1",
        "sweep.max_missed=[0.01,0.05]",
    )

    report = json.loads((run_dir / "thresholds.json").read_text())
    # deployed: the certified pair at the default 0.95; the empirical optimum beside it
    expected = find_thresholds(table["score"], table["label"], max_missed=0.01, max_false_alarm=0.1, confidence=0.95)
    empirical = find_thresholds(table["score"], table["label"], max_missed=0.01, max_false_alarm=0.1)
    for key in (
        "lower",
        "upper",
        "lower_rounded",
        "upper_rounded",
        "coverage",
        "missed_rate",
        "false_alarm_rate",
        "accuracy_decided",
        "n_not_decided",
        "tp",
        "tn",
        "fp",
        "fn",
        "missed_rate_upper",
        "false_alarm_rate_upper",
        "confidence",
        "certified",
        "certified_search",
    ):
        assert report[key] == getattr(expected, key), key
    assert report["certified_search"] and report["certified"] and report["rounded"]["certified"]
    assert report["rounded"]["coverage"] == expected.rounded.coverage
    assert report["limits"] == {"max_missed": 0.01, "max_false_alarm": 0.1}
    for key in ("lower", "upper", "lower_rounded", "upper_rounded", "coverage", "missed_rate_upper", "certified"):
        assert report["empirical"][key] == getattr(empirical, key), key
    assert report["empirical"]["coverage_rounded"] == empirical.rounded.coverage > report["rounded"]["coverage"]
    # sample-size advice per limit: 160-odd obstacles cannot certify 1% (368 needed with no miss at 97.5% each)
    missed, false_alarm = report["advice"]["missed"], report["advice"]["false_alarm"]
    assert missed["images"] == (table["label"] == "obstacle").sum() and missed["needed"] == 368
    assert missed["more_needed"] == 368 - missed["images"] and missed["best_limit"] > 0.01
    assert report["allowed_missed"] == -1 and report["lower"] < 0  # so the lower decides nothing
    assert false_alarm["images"] == (table["label"] == "no_obstacle").sum() and false_alarm["needed"] == 36
    assert false_alarm["more_needed"] == 0 and false_alarm["best_limit"] < 0.1
    # per site, numbers keyed by site name; the full table beside it
    assert set(report["per_site"]) == {"office", "plant"}
    per_site = pd.read_csv(run_dir / "per_site_thresholds.csv")
    assert per_site["site"].tolist() == ["office", "plant"] and per_site["searched"].all()
    for row in per_site.itertuples():
        numbers = report["per_site"][row.site]
        assert (
            numbers["n_obstacle"],
            numbers["n_no_obstacle"],
            numbers["lower_rounded"],
            numbers["upper_rounded"],
            numbers["coverage_rounded"],
            numbers["certified"],
        ) == (
            row.n_obstacle,
            row.n_no_obstacle,
            row.lower_rounded,
            row.upper_rounded,
            row.coverage_rounded,
            row.certified,
        )
    # thresholds.json is the DVC metric runs are compared by: numbers only, what produced it beside it
    assert not {"provenance", "wandb", "outputs", "predictions", "checkpoint", "git_commit"} & set(report)
    not_numbers = {key: value for key, value in metric_leaves(report) if not isinstance(value, (int, float))}
    assert not_numbers == {}
    provenance = json.loads((run_dir / "thresholds.provenance.json").read_text())
    assert provenance["predictions"] == str(predictions)
    assert provenance["predictions_sha256"] == hashlib.sha256(predictions.read_bytes()).hexdigest()
    assert provenance["checkpoint"] == "checkpoints/best.ckpt" and provenance["manifest_sha256"] == "ab12"
    assert "git_commit" in provenance and provenance["outputs"]["coverage_sweep"] == "coverage_sweep.csv"
    assert provenance["wandb"]["run_id"] == "trainrun1"

    assert provenance["guarantee"].startswith("certified: with 95% confidence")
    assert any(line.startswith("missed: ") and "label" in line for line in provenance["advice_in_words"])

    sweep = pd.read_csv(run_dir / "coverage_sweep.csv")
    assert len(sweep) == 2 * 6 and sweep["coverage"].between(0, 1).all()
    assert (sweep["certified_coverage"] <= sweep["coverage"]).all() and (sweep["confidence"] == 0.95).all()
    grid = limit_grid([0.01, 0.05], [0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    expected_sweep = coverage_sweep(table["score"], table["label"], grid, confidence=0.95)
    pd.testing.assert_frame_equal(sweep, expected_sweep, check_dtype=False)
    cell = sweep[(sweep["max_missed"] == 0.01) & (sweep["max_false_alarm"] == 0.1)].iloc[0]
    assert cell["certified_coverage"] == report["coverage"] and cell["coverage"] == report["empirical"]["coverage"]
    assert (run_dir / "risk_coverage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run_dir.glob(".*.tmp"))
    assert not (tmp_path / "outputs").exists()  # Hydra neither changed cwd nor wrote run folders

    [wandb_run] = (run_dir / "wandb").glob("offline-run-*-trainrun1")  # attached to the given run id
    [table_file] = (wandb_run / "files" / "media" / "table").rglob("coverage_sweep*.table.json")
    logged = json.loads(table_file.read_text())
    assert "coverage" in logged["columns"] and len(logged["data"]) == 12
    for name in ("coverage", "certified_coverage"):  # both coverages in the W&B table
        column = logged["columns"].index(name)
        assert [row[column] for row in logged["data"]] == pytest.approx(sweep[name].tolist())
    [pairs_file] = (wandb_run / "files" / "media" / "table").rglob("thresholds*.table.json")
    pairs = json.loads(pairs_file.read_text())
    assert [row[pairs["columns"].index("pair")] for row in pairs["data"]] == ["deployed", "empirical"]
    assert list((wandb_run / "files" / "media" / "table").rglob("per_site*.table.json"))
    assert list((wandb_run / "files" / "media" / "images").rglob("risk_coverage*.png"))


def test_confidence_null_deploys_the_empirical_optimum_and_per_site_can_be_off(tmp_path, capsys):
    predictions = tmp_path / "eval" / "predictions.csv"
    table = write_predictions(predictions, n=300, seed=4)
    search(
        tmp_path,
        f"predictions={predictions}",
        "wandb.enabled=false",
        "confidence=null",
        "per_site=false",
        "sweep.max_missed=[0.05]",
    )
    report = json.loads((tmp_path / "eval" / "thresholds.json").read_text())
    expected = find_thresholds(table["score"], table["label"])
    assert (report["lower"], report["upper"], report["coverage"]) == (expected.lower, expected.upper, expected.coverage)
    assert not report["certified_search"] and report["confidence"] == 0.95  # bounds at report_confidence
    assert report["missed_rate_upper"] == expected.missed_rate_upper and report["per_site"] == {}
    assert pd.read_csv(tmp_path / "eval" / "per_site_thresholds.csv").empty  # header only: DVC's out stays there
    printed = capsys.readouterr().out
    assert "not certified" in printed and "deployed (empirical)" in printed


def test_the_search_names_a_missing_column(tmp_path):
    predictions = tmp_path / "predictions.csv"
    write_predictions(predictions, n=20, drop="score")
    with pytest.raises(ValueError, match=re.escape("missing column(s) ['score']")):
        search(tmp_path, f"predictions={predictions}", "wandb.enabled=false")
    assert not (tmp_path / "thresholds.json").exists()


GOOD_ROWS = "eval/a.jpg,office,obstacle,0.9\neval/b.jpg,office,no_obstacle,0.1\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r":1: empty file; expected the header path,site,label,score"),
        (b"path,site,label,score\n", r":2: no predictions below the header"),
        (f"path,site,label,score\n{GOOD_ROWS}\n\neval/c.jpg,x,maybe,0.4\n".encode(), r":6: unknown label 'maybe'"),
        (f"path,site,label,score\n{GOOD_ROWS}path,site,label,score\n{GOOD_ROWS}".encode(), r":4: a second header line"),
        (
            f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,high\n".encode(),
            r":4: score 'high' is not a number",
        ),
        (
            f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,1.7\n".encode(),
            r":4: score 1.7 is not a probability in \[0, 1\]",
        ),
        (
            f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,nan\n".encode(),
            r":4: score nan is not a probability",
        ),
        (f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,\n".encode(), r":4: score '' is not a number"),
        (
            "path,site,label,score\neval/caf\u00e9.jpg,x,obstacle,0.5\n".encode("cp1252"),
            r":2: byte 0xe9 at column 9 is not UTF-8 text; save it as UTF-8",
        ),
        (b"path,site,score\neval/a.jpg,x,0.5\n", r":1: missing column\(s\) \['label'\]"),
    ],
    ids=[
        "empty",
        "header-only",
        "unknown-label-after-blank-lines",
        "second-header",
        "not-a-number",
        "above-one",
        "nan",
        "blank-score",
        "cp1252",
        "missing-column",
    ],
)
def test_a_bad_predictions_file_is_named_with_its_line(tmp_path, content, message):
    path = tmp_path / "predictions.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + message):
        read_predictions(path)
    assert path.read_bytes() == content, "the input is never modified"


def test_the_search_refuses_a_score_outside_zero_one_naming_file_and_row(tmp_path):
    predictions = tmp_path / "predictions.csv"
    table = write_predictions(predictions, n=20)
    table.loc[7, "score"] = 1.7
    table.to_csv(predictions, index=False)
    with pytest.raises(ValueError, match=re.escape(f"{predictions}:9: score 1.7 is not a probability in [0, 1]")):
        search(tmp_path, f"predictions={predictions}", "wandb.enabled=false")
    assert not (tmp_path / "thresholds.json").exists()


def test_the_search_attaches_to_the_wandb_run_already_in_the_run_folder(tmp_path):
    run_dir = tmp_path / "experiments" / "002.demo.train"
    write_predictions(run_dir / "predictions.csv", n=100)
    (run_dir / "wandb" / "offline-run-20260101_000000-train42").mkdir(parents=True)  # the training run's
    search(tmp_path, f"predictions={run_dir / 'predictions.csv'}", "sweep.max_missed=[0.05]")
    assert json.loads((run_dir / "thresholds.provenance.json").read_text())["wandb"]["run_id"] == "train42"
    assert len(list((run_dir / "wandb").glob("offline-run-*-train42"))) == 2


def test_repeated_frames_are_refused_so_the_certificate_counts_distinct_frames(tmp_path):
    """Issue 21 item 2: 99 frames concatenated ten times "certified" a lower threshold over 990 frames."""
    table = write_predictions(tmp_path / "one.csv", n=99, seed=3)
    inflated = tmp_path / "run" / "predictions.csv"
    inflated.parent.mkdir()
    pd.concat([table] * 10).to_csv(inflated, index=False)
    settings = {"max_missed": 0.01, "max_false_alarm": 0.05, "confidence": 0.95}
    repeated = find_thresholds(pd.concat([table] * 10)["score"], pd.concat([table] * 10)["label"], **settings)
    assert repeated.n == 990 and repeated.lower > 0, "the inflated file would certify a lower threshold"
    with pytest.raises(ValueError, match=re.escape(f"{inflated}:101: frame 'eval/img_0.jpg' is listed 10 times")):
        read_predictions(inflated)
    repeats = "(lines 2, 101, 200, 299, 398, ...); 891 repeated row(s) in all, 99 distinct frames in 990 rows"
    with pytest.raises(ValueError, match=re.escape(repeats)):
        search(tmp_path, f"predictions={inflated}", "wandb.enabled=false", "sweep.max_missed=[0.05]")
    assert not (inflated.parent / "thresholds.json").exists()
    alone = find_thresholds(table["score"], table["label"], **settings)
    assert alone.n == 99 and alone.lower < 0, "the real 99 frames certify nothing on the obstacle side"


@pytest.mark.parametrize("spelling", ["./eval/a.jpg", "eval//a.jpg", "eval/x/../a.jpg", "eval\\a.jpg"])
def test_a_frame_spelled_two_ways_is_one_frame(tmp_path, spelling):
    path = tmp_path / "predictions.csv"
    path.write_text(f"path,site,label,score\n{GOOD_ROWS}{spelling},office,obstacle,0.8\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:4: frame 'eval/a.jpg' is listed 2 times (lines 2, 4)")):
        read_predictions(path)


def test_a_failed_search_leaves_the_previous_set_whole(tmp_path, monkeypatch):
    """Issue 21 item 5: on a full disk, a new per_site_thresholds.csv landed beside the previous
    run's thresholds.json, which then looked like a complete set."""
    import errno

    from obstacles.thresholds import job

    predictions = tmp_path / "predictions.csv"
    write_predictions(predictions, n=200)
    settings = tool_settings(
        "thresholds", [f"predictions={predictions}", "wandb.enabled=false", "sweep.max_missed=[0.05]"]
    )
    job.search_thresholds(settings)
    names = (job.SWEEP_FILE, job.PER_SITE_FILE, job.PLOT_FILE, job.THRESHOLDS_PROVENANCE_FILE, job.THRESHOLDS_FILE)
    before = {name: (tmp_path / name).read_bytes() for name in names}
    write_predictions(predictions, n=300, seed=5)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(job, "save_figure", disk_full)
    with pytest.raises(OSError, match="No space left"):
        job.search_thresholds(settings)
    assert {name: (tmp_path / name).read_bytes() for name in names} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, "predictions.csv"]), "no staging left"
