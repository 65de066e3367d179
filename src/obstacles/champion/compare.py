"""The champion comparison on a table of paired scores, globally and per site (no files, no config).

Input: one row per challenger eval frame, columns `path, site, label, challenger, champion`, where
`champion` is empty (NaN) for a frame the champion never scored (a reversed copy, for the deployed
model). Those frames are evaluated for the challenger alone and counted (`n_left_out`); everything
paired (both AUROCs and APs, DeLong's test, both models' threshold pairs and their coverage, the
bootstrap of the coverage difference, the verdict) runs on the frames both scored, so a difference
is never a difference of frames.

Each group's result has `numbers()` (what champion.json holds: numbers only, absent where not
defined, never NaN) and `words()` (the verdict and the reasons, for the provenance file and the
summary).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from obstacles.champion.delong import NotTestable, delong_test
from obstacles.champion.paired import (
    NOT_TESTABLE,
    VERDICT_CODES,
    Limits,
    coverage_difference,
    frames_needed,
    verdict,
    verdict_in_words,
)
from obstacles.metrics import labels_to_bool, summary_metrics
from obstacles.thresholds import find_thresholds

CHALLENGER, CHAMPION = "challenger", "champion"
FRAME_COLUMNS = ("path", "site", "label", CHALLENGER, CHAMPION)
PAIRS = ("certified", "empirical")  # each model's deployed (certified) pair and its empirical optimum
ALL_SITES = "all"


@dataclass(frozen=True)
class Settings:
    """What the comparison is asked: the test's level, the power behind `frames needed`, the
    deployment limits, the bootstrap, and the least frames of each class worth a test."""

    alpha: float
    power: float
    confidence: float  # of the DeLong interval of the AUROC difference
    limits: Limits  # certified at limits.confidence; the empirical pair beside it
    resamples: int
    bootstrap_confidence: float
    seed: int
    min_per_class: int


@dataclass(frozen=True)
class GroupComparison:
    """One group's (all frames, or one site's) comparison."""

    name: str
    numbers_: dict
    verdict: str
    reason: str | None

    def numbers(self) -> dict:
        return self.numbers_

    def words(self) -> dict:
        n = self.numbers_["n"]
        return {"verdict_name": self.verdict, "verdict_in_words": verdict_in_words(self.verdict, n, self.reason)}


def _dropped_none(tree):
    """A nested dict without its None leaves: champion.json holds numbers only (DVC metrics)."""
    if isinstance(tree, dict):
        return {key: _dropped_none(value) for key, value in tree.items() if value is not None}
    return tree


def _scores_summary(scores: np.ndarray, is_obstacle: np.ndarray) -> dict | None:
    if is_obstacle.all() or not is_obstacle.any():
        return None
    summary = summary_metrics(scores, is_obstacle)
    return {"auroc": summary["auroc"], "average_precision": summary["average_precision"]}


def _threshold_pairs(scores: np.ndarray, is_obstacle: np.ndarray, limits: Limits) -> dict | None:
    """The model's own certified and empirical pair at the limits, and what they decide."""
    if is_obstacle.all() or not is_obstacle.any():
        return None
    pairs = {}
    for name, confidence in zip(PAIRS, (limits.confidence, None)):
        result = find_thresholds(
            scores,
            is_obstacle,
            max_missed=limits.max_missed,
            max_false_alarm=limits.max_false_alarm,
            confidence=confidence,
            decimals=limits.decimals,
            epsilon=limits.epsilon,
        )
        decided = result.rounded if limits.rounded else result
        pairs[name] = {
            "lower": result.lower_rounded if limits.rounded else result.lower,
            "upper": result.upper_rounded if limits.rounded else result.upper,
            "coverage": decided.coverage,
            "missed_rate": decided.missed_rate,
            "false_alarm_rate": decided.false_alarm_rate,
            "certified": bool(decided.certified),
        }
    return pairs


def _why_not_testable(n_obstacle: int, n_no_obstacle: int, min_per_class: int) -> str | None:
    if min(n_obstacle, n_no_obstacle) < min_per_class:
        return (
            f"{n_obstacle} obstacle and {n_no_obstacle} no_obstacle frame(s) scored by both; "
            f"at least {min_per_class} of each are needed"
        )
    return None


def compare_group(name: str, frames: pd.DataFrame, settings: Settings) -> GroupComparison:
    """Everything the report says about one group of frames (module docstring)."""
    is_obstacle_all = labels_to_bool(frames["label"].to_numpy())
    challenger_all = frames[CHALLENGER].to_numpy(dtype=np.float64)
    paired = frames[CHAMPION].notna().to_numpy()
    is_obstacle = is_obstacle_all[paired]
    challenger = challenger_all[paired]
    champion = frames[CHAMPION].to_numpy(dtype=np.float64)[paired]
    n_obstacle = int(is_obstacle.sum())
    n_no_obstacle = int(is_obstacle.size - n_obstacle)
    challenger_numbers = _scores_summary(challenger, is_obstacle) or {}
    every_frame = _scores_summary(challenger_all, is_obstacle_all) or {}
    challenger_numbers.update({f"{key}_all_frames": value for key, value in every_frame.items()})
    challenger_numbers["thresholds"] = _threshold_pairs(challenger, is_obstacle, settings.limits)
    champion_numbers = _scores_summary(champion, is_obstacle) or {}
    champion_numbers["thresholds"] = _threshold_pairs(champion, is_obstacle, settings.limits)
    numbers = {
        "n": int(is_obstacle.size),
        "n_obstacle": n_obstacle,
        "n_no_obstacle": n_no_obstacle,
        "n_challenger": int(is_obstacle_all.size),
        "n_left_out": int(is_obstacle_all.size - is_obstacle.size),
        CHALLENGER: challenger_numbers,
        CHAMPION: champion_numbers,
    }
    reason = _why_not_testable(n_obstacle, n_no_obstacle, settings.min_per_class)
    test = None
    if reason is None:
        try:
            test = delong_test(champion, challenger, is_obstacle, confidence=settings.confidence)
        except NotTestable as error:
            reason = str(error)
    if test is None:
        numbers.update({"testable": False, "verdict": VERDICT_CODES[NOT_TESTABLE]})
        return GroupComparison(name, _dropped_none(numbers), NOT_TESTABLE, reason)
    name_of_verdict = verdict(test.difference, test.p, settings.alpha)
    numbers["auroc_difference"] = {
        key: getattr(test, key) for key in ("difference", "se", "ci_low", "ci_high", "z", "p", "confidence")
    }
    numbers["coverage_difference"] = {
        pair: coverage_difference(
            champion,
            challenger,
            is_obstacle,
            replace(settings.limits, confidence=confidence),
            resamples=settings.resamples,
            confidence=settings.bootstrap_confidence,
            seed=settings.seed,
        ).to_dict()
        for pair, confidence in zip(PAIRS, (settings.limits.confidence, None))
    }
    numbers.update(
        {
            "testable": True,
            "verdict": VERDICT_CODES[name_of_verdict],
            "alpha": settings.alpha,
            "power": settings.power,
            "frames_needed": frames_needed(numbers["n"], test.z, alpha=settings.alpha, power=settings.power),
        }
    )
    return GroupComparison(name, _dropped_none(numbers), name_of_verdict, None)


def compare_frames(frames: pd.DataFrame, settings: Settings) -> tuple[GroupComparison, list[GroupComparison]]:
    """(all frames, one comparison per site in site order)."""
    missing = [column for column in FRAME_COLUMNS if column not in frames.columns]
    if missing:
        raise ValueError(f"paired frames lack column(s) {missing}; expected {list(FRAME_COLUMNS)}")
    overall = compare_group(ALL_SITES, frames, settings)
    sites = [compare_group(str(site), part, settings) for site, part in frames.groupby("site", sort=True)]
    return overall, sites


PER_SITE_COLUMNS = (
    "site",
    "n",
    "n_obstacle",
    "n_no_obstacle",
    "n_left_out",
    "auroc_champion",
    "auroc_challenger",
    "ap_champion",
    "ap_challenger",
    "difference",
    "ci_low",
    "ci_high",
    "p",
    "coverage_certified_champion",
    "coverage_certified_challenger",
    "coverage_empirical_champion",
    "coverage_empirical_challenger",
    "coverage_empirical_difference_ci_low",
    "coverage_empirical_difference_ci_high",
    "frames_needed",
    "verdict",
)


def per_site_table(groups: list[GroupComparison]) -> pd.DataFrame:
    """One row per group (per_site.csv, the W&B table): the headline figures and the verdict in words."""
    rows = []
    for group in groups:
        numbers = group.numbers()
        models = {role: numbers.get(role, {}) for role in (CHAMPION, CHALLENGER)}
        test = numbers.get("auroc_difference", {})
        coverage = numbers.get("coverage_difference", {}).get("empirical", {})
        row = {
            "site": group.name,
            **{key: numbers[key] for key in ("n", "n_obstacle", "n_no_obstacle", "n_left_out")},
            **{f"auroc_{role}": models[role].get("auroc") for role in models},
            **{f"ap_{role}": models[role].get("average_precision") for role in models},
            **{key: test.get(key) for key in ("difference", "ci_low", "ci_high", "p")},
            "coverage_empirical_difference_ci_low": coverage.get("ci_low"),
            "coverage_empirical_difference_ci_high": coverage.get("ci_high"),
            "frames_needed": numbers.get("frames_needed"),
            "verdict": group.words()["verdict_in_words"],
        }
        for pair in PAIRS:
            for role in models:
                pairs = models[role].get("thresholds", {})
                row[f"coverage_{pair}_{role}"] = pairs.get(pair, {}).get("coverage")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(PER_SITE_COLUMNS))
