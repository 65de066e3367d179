"""Benchmark of the two-threshold search (DESIGN section 5). Run: `python bench/thresholds.py`.

Prints plain tables:
1. time of `find_thresholds` for 10^3..10^7 predictions against one `np.sort` of the same scores,
   and against a naive search over a 101x101 grid of threshold pairs (0.00, 0.01, ..., 1.00);
2. for a few seeds, how many images each answer leaves not decided: the exact search, its
   deployment rounding (two decimals outward), and the grid;
3. over many seeds and three eval-set sizes, how often the grid loses to the exact search and
   how it compares with the outward rounding;
4. certified mode (confidence 0.95) against the empirical optimum at 10^6 predictions: time ratio
   (target: certified within 3x the empirical search);
5. checked, not assumed: evaluation sets drawn from the two known distributions, thresholds found
   on each, their TRUE rates computed from the distributions: how often a limit is broken and the
   true coverage, for the certified pair (exact and rounded), the empirical optimum and MAPIE's
   `BinaryClassificationController` (Learn-then-Test; recall >= 1 - max_missed for lower, false
   positive rate <= max_false_alarm for upper, each at 1 - (1 - c) / 2 like ours, its default grid
   0.00..0.99, with its default Bonferroni-Holm and with fixed-sequence testing). MAPIE is a
   bench-only dependency (bench/README.md); without it that column says so.

Data: two overlapping beta distributions (obstacle ~ Beta(5, 2), no_obstacle ~ Beta(2, 5), 40 %
obstacles); "4dp" rows round the scores to 4 decimals, so many scores tie.
Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
from scipy.stats import beta

from obstacles.thresholds import find_thresholds, max_allowed_errors, side_confidence

MAX_MISSED = 0.01
MAX_FALSE_ALARM = 0.05
GRID = np.round(np.arange(101) / 100, 2)  # exact two-decimal floats, as the team would type them
CHUNK = 2_000_000  # grid comparisons per chunk of scores, to bound memory


def make_predictions(n: int, seed: int, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    is_obstacle = rng.random(n) < 0.4
    scores = np.where(is_obstacle, rng.beta(5, 2, n), rng.beta(2, 5, n))
    return (np.round(scores, decimals) if decimals is not None else scores), is_obstacle


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def count_at_or_below(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """#(values <= g) for every grid value, by brute comparison (what a grid search does)."""
    counts = np.zeros(grid.size, dtype=np.int64)
    for start in range(0, values.size, CHUNK):
        counts += (values[start : start + CHUNK, None] <= grid[None, :]).sum(axis=0)
    return counts


def grid_search(scores: np.ndarray, is_obstacle: np.ndarray, max_missed: float, max_false_alarm: float):
    """The simple approach: every (lower, upper) on the 0.01 grid; fewest not decided, then most accurate."""
    obstacle, no_obstacle = scores[is_obstacle], scores[~is_obstacle]
    missed = count_at_or_below(obstacle, GRID)  # obstacles called no_obstacle at lower = g
    true_negative = count_at_or_below(no_obstacle, GRID)
    false_alarm = no_obstacle.size - true_negative  # no_obstacle called obstacle at upper = g
    true_positive = obstacle.size - missed
    feasible = (
        (missed / obstacle.size <= max_missed)[:, None]
        & (false_alarm / no_obstacle.size <= max_false_alarm)[None, :]
        & (GRID[:, None] <= GRID[None, :])
    )
    if not feasible.any():
        return None
    decided = (missed + true_negative)[:, None] + (true_positive + false_alarm)[None, :]
    correct = true_negative[:, None] + true_positive[None, :]
    key = np.where(feasible, decided * (scores.size + 1) + correct, -1)
    lower, upper = np.unravel_index(np.argmax(key), key.shape)
    return float(GRID[lower]), float(GRID[upper])


def exact_search(scores, is_obstacle):
    return find_thresholds(scores, is_obstacle, max_missed=MAX_MISSED, max_false_alarm=MAX_FALSE_ALARM)


def naive_search(scores, is_obstacle):
    return grid_search(scores, is_obstacle, MAX_MISSED, MAX_FALSE_ALARM)


def not_decided(scores, lower, upper) -> int:
    return int(((scores > lower) & (scores <= upper)).sum())


def rates(scores, is_obstacle, lower, upper) -> tuple[float, float]:
    missed = (is_obstacle & (scores <= lower)).sum() / is_obstacle.sum()
    false_alarm = (~is_obstacle & (scores > upper)).sum() / (~is_obstacle).sum()
    return float(missed), float(false_alarm)


def timing_table(grid_up_to: int) -> None:
    print(f"Search time, limits max_missed={MAX_MISSED}, max_false_alarm={MAX_FALSE_ALARM}; best of several runs")
    header = (
        f"{'n':>10} {'scores':>6} {'distinct':>9} {'np.sort ms':>11} {'search ms':>10} {'search/sort':>11}"
        f" {'grid ms':>9} {'grid/search':>11}"
    )
    print(header)
    print("-" * len(header))
    for exponent in range(3, 8):
        for decimals in (None, 4):
            n = 10**exponent
            if decimals is not None and exponent not in (4, 6, 7):
                continue
            scores, is_obstacle = make_predictions(n, seed=exponent, decimals=decimals)
            repeats = 7 if n <= 10**5 else 3
            sort_s = best_time(lambda: np.sort(scores), repeats)
            search_s = best_time(lambda: exact_search(scores, is_obstacle), repeats)
            if n <= grid_up_to:
                grid_s = best_time(lambda: naive_search(scores, is_obstacle), 1 if n >= 10**6 else 3)
                grid_cols = f"{grid_s * 1e3:>9.1f} {grid_s / search_s:>10.0f}x"
            else:
                grid_cols = f"{'skipped':>9} {'':>11}"
            distinct = np.unique(scores).size
            kind = "4dp" if decimals else "float"
            print(
                f"{n:>10,} {kind:>6} {distinct:>9,} {sort_s * 1e3:>11.3f} {search_s * 1e3:>10.3f} "
                f"{search_s / sort_s:>10.1f}x {grid_cols}"
            )
    if grid_up_to < 10**7:
        print(f"(grid skipped above n={grid_up_to:,})")


def optimality_table(n: int, seeds) -> None:
    print()
    print(f"Not-decided images at n={n:,} (max_missed={MAX_MISSED}, max_false_alarm={MAX_FALSE_ALARM})")
    header = (
        f"{'seed':>4} {'exact lower..upper':>20} {'exact ND':>8} {'rounded':>11} {'rounded ND':>10}"
        f" {'grid':>11} {'grid ND':>8} {'grid-exact':>10} {'grid feasible':>13}"
    )
    print(header)
    print("-" * len(header))
    for seed in seeds:
        scores, is_obstacle = make_predictions(n, seed=seed, decimals=4 if seed % 2 else None)
        result = find_thresholds(scores, is_obstacle, max_missed=MAX_MISSED, max_false_alarm=MAX_FALSE_ALARM)
        grid = grid_search(scores, is_obstacle, MAX_MISSED, MAX_FALSE_ALARM)
        exact = f"{result.lower:.4f}..{result.upper:.4f}"
        rounded = f"{result.lower_rounded:.2f}..{result.upper_rounded:.2f}"
        if grid is None:
            print(
                f"{seed:>4} {exact:>20} {result.n_not_decided:>8} {rounded:>11} {result.rounded.n_not_decided:>10} none"
            )
            continue
        grid_nd = not_decided(scores, *grid)
        missed, false_alarm = rates(scores, is_obstacle, *grid)
        feasible = "yes" if missed <= MAX_MISSED and false_alarm <= MAX_FALSE_ALARM else "NO"
        print(
            f"{seed:>4} {exact:>20} {result.n_not_decided:>8} {rounded:>11} {result.rounded.n_not_decided:>10}"
            f" {grid[0]:.2f}..{grid[1]:.2f} {grid_nd:>8} {grid_nd - result.n_not_decided:>+10} {feasible:>13}"
        )
    print("ND = not decided. Odd seeds use 4-decimal scores (ties).")


def frequency_table(sizes, n_seeds: int) -> None:
    """How often the grid loses to the exact search, and how it compares with the outward rounding."""
    print()
    print(f"Over {n_seeds} seeds per size (a third with 2-decimal scores): not-decided images compared")
    header = (
        f"{'n':>7} {'grid > exact':>12} {'grid = exact':>12}"
        f" {'grid < rounded':>14} {'grid = rounded':>14} {'grid > rounded':>14}"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        counts = np.zeros(5, dtype=int)
        for seed in range(n_seeds):
            scores, is_obstacle = make_predictions(n, seed=seed, decimals=2 if seed % 3 == 0 else None)
            result = find_thresholds(scores, is_obstacle, max_missed=MAX_MISSED, max_false_alarm=MAX_FALSE_ALARM)
            grid_nd = not_decided(scores, *grid_search(scores, is_obstacle, MAX_MISSED, MAX_FALSE_ALARM))
            exact_nd, rounded_nd = result.n_not_decided, result.rounded.n_not_decided
            counts += [
                grid_nd > exact_nd,
                grid_nd == exact_nd,
                grid_nd < rounded_nd,
                grid_nd == rounded_nd,
                grid_nd > rounded_nd,
            ]
        print(f"{n:>7,} " + " ".join(f"{c:>{w}}" for c, w in zip(counts, (12, 12, 14, 14, 14))))
    print("rounded = the exact answer rounded outward (lower down, upper up) for deployment.")


def certified_timing_table(n: int = 10**6, repeats: int = 7) -> float:
    """Certified (confidence 0.95) against empirical search time at n predictions; returns the float ratio."""
    print()
    print(f"Certified (confidence 0.95) against empirical search at n={n:,}; best of {repeats} runs each")
    header = f"{'scores':>6} {'empirical ms':>12} {'certified ms':>12} {'certified/empirical':>19}"
    print(header)
    print("-" * len(header))
    ratio = float("nan")
    for decimals in (None, 4):
        scores, is_obstacle = make_predictions(n, seed=42, decimals=decimals)
        find_thresholds(scores[:1000], is_obstacle[:1000], confidence=0.95)  # imports warm
        empirical_s = best_time(lambda: find_thresholds(scores, is_obstacle), repeats)
        certified_s = best_time(lambda: find_thresholds(scores, is_obstacle, confidence=0.95), repeats)
        print(
            f"{'4dp' if decimals else 'float':>6} {empirical_s * 1e3:>12.2f} {certified_s * 1e3:>12.2f}"
            f" {certified_s / empirical_s:>18.2f}x"
        )
        ratio = certified_s / empirical_s if decimals is None else ratio
    print("The certified search differs only in the allowed counts (max_allowed_errors: ~log2(n) Beta quantiles,")
    print("cached per class size); sorting dominates both.")
    return ratio


# true rates of a pair from the known distributions (obstacle ~ Beta(5, 2), no_obstacle ~ Beta(2, 5))
OBSTACLE, NO_OBSTACLE, OBSTACLE_SHARE = (5, 2), (2, 5), 0.4


def true_rates(lower: float, upper: float) -> tuple[float, float, float]:
    """(missed, false alarm, coverage) on new frames; continuous scores, so <= and < are the same."""
    missed = beta.cdf(lower, *OBSTACLE) if lower >= 0 else 0.0
    false_alarm = beta.sf(upper, *NO_OBSTACLE) if upper < 1 else 0.0
    if lower >= upper:
        coverage = 1.0
    else:
        coverage = OBSTACLE_SHARE * (beta.cdf(max(lower, 0), *OBSTACLE) + beta.sf(upper, *OBSTACLE)) + (
            1 - OBSTACLE_SHARE
        ) * (beta.cdf(max(lower, 0), *NO_OBSTACLE) + beta.sf(upper, *NO_OBSTACLE))
    return float(missed), float(false_alarm), float(coverage)


def mapie_pair(scores, is_obstacle, max_missed, max_false_alarm, confidence, fwer_method):
    """MAPIE's two controllers, one risk each; MAPIE calls obstacle when score >= its threshold.

    lower: recall >= 1 - max_missed (the largest valid threshold: the most images called no_obstacle);
    upper: false-positive rate <= max_false_alarm (the smallest valid one). No valid threshold on a
    side: that side decides nothing. Fixed-sequence tests the grid in the given order, so the upper's
    grid is handed over from the top down (its easy end first), the lower's from the bottom up.
    """
    from mapie.risk_control import BinaryClassificationController

    def proba(x):
        return np.column_stack([1 - x[:, 0], x[:, 0]])

    grid = np.linspace(0, 0.99, 100)  # MAPIE's default grid
    level = side_confidence(confidence)
    features, targets = scores[:, None], is_obstacle.astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "No predict parameters were found ..."
        recall = BinaryClassificationController(
            proba, "recall", 1 - max_missed, confidence_level=level, list_predict_params=grid, fwer_method=fwer_method
        )
        fpr = BinaryClassificationController(
            proba,
            "fpr",
            max_false_alarm,
            confidence_level=level,
            list_predict_params=grid[::-1] if fwer_method == "fixed_sequence" else grid,
            fwer_method=fwer_method,
        )
        lower_valid = recall.calibrate(features, targets).valid_predict_params
        upper_valid = fpr.calibrate(features, targets).valid_predict_params
    # score < lambda is called no_obstacle: the largest float under lambda is our "<=" lower
    lower = float(np.nextafter(lower_valid.max(), -np.inf)) if len(lower_valid) else -1.0
    upper = float(np.nextafter(upper_valid.min(), -np.inf)) if len(upper_valid) else 1.0
    return lower, upper


def break_frequency_table(sizes, draws: int, confidence: float = 0.95) -> dict:
    """How often the true rates break a limit, per method, over draws of evaluation sets."""
    try:
        import mapie

        mapie_version = mapie.__version__
    except ImportError:
        mapie_version = None
    methods = ["certified", "certified rounded", "empirical"]
    if mapie_version:
        methods += ["MAPIE fixed-seq", "MAPIE Bonf-Holm"]
    print()
    print(
        f"Break frequencies over {draws} evaluation sets per size, limits max_missed={MAX_MISSED}, "
        f"max_false_alarm={MAX_FALSE_ALARM}, confidence {confidence} (both limits at once)"
    )
    print(
        "true rates and coverage from the score distributions (obstacle ~ Beta(5, 2), no_obstacle ~ Beta(2, 5),"
        " 40 % obstacles)"
    )
    print(f"MAPIE: {mapie_version or 'not installed (pip install mapie==1.6.0; see bench/README.md)'}")
    header = (
        f"{'n':>7} {'method':>18} {'missed broken':>13} {'FA broken':>9} {'either':>7}"
        f" {'true coverage':>13} {'eval coverage':>13}"
    )
    print(header)
    print("-" * len(header))
    summary = {}
    for n in sizes:
        broken = {m: np.zeros((draws, 2), bool) for m in methods}
        coverage = {m: np.zeros(draws) for m in methods}
        eval_coverage = {m: np.zeros(draws) for m in methods}
        for draw in range(draws):
            scores, is_obstacle = make_predictions(n, seed=10_000 * n + draw)
            certified = find_thresholds(
                scores, is_obstacle, max_missed=MAX_MISSED, max_false_alarm=MAX_FALSE_ALARM, confidence=confidence
            )
            empirical = find_thresholds(scores, is_obstacle, max_missed=MAX_MISSED, max_false_alarm=MAX_FALSE_ALARM)
            pairs = {
                "certified": (certified.lower, certified.upper),
                "certified rounded": (certified.lower_rounded, certified.upper_rounded),
                "empirical": (empirical.lower, empirical.upper),
            }
            if mapie_version:
                pairs["MAPIE fixed-seq"] = mapie_pair(
                    scores, is_obstacle, MAX_MISSED, MAX_FALSE_ALARM, confidence, "fixed_sequence"
                )
                pairs["MAPIE Bonf-Holm"] = mapie_pair(
                    scores, is_obstacle, MAX_MISSED, MAX_FALSE_ALARM, confidence, "bonferroni_holm"
                )
            for method, (lower, upper) in pairs.items():
                missed, false_alarm, covered = true_rates(lower, upper)
                broken[method][draw] = (missed > MAX_MISSED, false_alarm > MAX_FALSE_ALARM)
                coverage[method][draw] = covered
                decided = (scores <= lower) | (scores > upper)
                eval_coverage[method][draw] = decided.mean()
        for method in methods:
            sides = broken[method].mean(axis=0)
            either = broken[method].any(axis=1).mean()
            print(
                f"{n:>7,} {method:>18} {sides[0]:>13.3f} {sides[1]:>9.3f} {either:>7.3f}"
                f" {coverage[method].mean():>13.3f} {eval_coverage[method].mean():>13.3f}"
            )
            summary[(n, method)] = (float(sides[0]), float(sides[1]), float(either), float(coverage[method].mean()))
        n_obstacle = round(n * OBSTACLE_SHARE)
        k = max_allowed_errors(n_obstacle, MAX_MISSED, side_confidence(confidence))
        print(f"{'':>7} (about {n_obstacle} obstacles: the certified lower may miss {k} of them on the eval set)")
    print(
        f"'either' must stay under 1 - c = {1 - confidence:.2f} (plus sampling slack, about "
        f"{3 * np.sqrt(0.05 * 0.95 / draws):.3f} at 3 sd) for a certified method."
    )
    print("MAPIE's thresholds are on its 0.01 grid; a pair whose lower is at or above its upper decides everything.")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid-up-to", type=int, default=10**7, help="largest n for the naive grid search")
    parser.add_argument("--optimality-n", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--frequency-seeds", type=int, default=200)
    parser.add_argument("--certified-draws", type=int, default=500, help="evaluation sets per size (section 5)")
    parser.add_argument("--certified-sizes", type=int, nargs="+", default=[1_000, 5_000, 20_000])
    parser.add_argument("--only-certified", action="store_true", help="sections 4 and 5 only")
    args = parser.parse_args()
    print(f"numpy {np.__version__}, python {platform.python_version()}, {platform.machine()}")
    start = time.perf_counter()
    if not args.only_certified:
        timing_table(args.grid_up_to)
        optimality_table(args.optimality_n, args.seeds)
        frequency_table((200, 1_000, 10_000), args.frequency_seeds)
    certified_timing_table()
    break_frequency_table(args.certified_sizes, args.certified_draws)
    print(f"\ntotal bench time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
