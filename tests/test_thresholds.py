"""The two deployment thresholds (DESIGN section 5): exactness against brute force, rounding, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from obstacles.io.outputs import atomic_output
from obstacles.io.predictions import read_predictions
from obstacles.thresholds import coverage_sweep, find_thresholds, limit_grid

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


def run_cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "WANDB_MODE": "offline",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
        "WANDB_SILENT": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "obstacles.thresholds", *overrides],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


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
    done = run_cli(tmp_path, f"predictions={predictions}", "limits.max_false_alarm=0.1", "sweep.max_missed=[0.01,0.05]")
    assert done.returncode == 0, done.stderr

    report = json.loads((run_dir / "thresholds.json").read_text())
    expected = find_thresholds(table["score"], table["label"], max_missed=0.01, max_false_alarm=0.1)
    for key in ("lower", "upper", "lower_rounded", "upper_rounded", "coverage", "missed_rate", "false_alarm_rate",
                "accuracy_decided", "n_not_decided", "tp", "tn", "fp", "fn"):
        assert report[key] == getattr(expected, key), key
    assert report["rounded"]["coverage"] == expected.rounded.coverage
    assert report["limits"] == {"max_missed": 0.01, "max_false_alarm": 0.1}
    # thresholds.json is the DVC metric runs are compared by: numbers only, what produced it beside it
    assert not {"provenance", "wandb", "outputs", "predictions", "checkpoint", "git_commit"} & set(report)
    assert all(isinstance(v, (int, float)) for v in [*report.values(), *report["rounded"].values(),
                                                       *report["limits"].values()] if not isinstance(v, dict))
    provenance = json.loads((run_dir / "thresholds.provenance.json").read_text())
    assert provenance["predictions"] == str(predictions)
    assert provenance["predictions_sha256"] == hashlib.sha256(predictions.read_bytes()).hexdigest()
    assert provenance["checkpoint"] == "checkpoints/best.ckpt" and provenance["manifest_sha256"] == "ab12"
    assert "git_commit" in provenance and provenance["outputs"]["coverage_sweep"] == "coverage_sweep.csv"
    assert provenance["wandb"]["run_id"] == "trainrun1"

    sweep = pd.read_csv(run_dir / "coverage_sweep.csv")
    assert len(sweep) == 2 * 6 and sweep["coverage"].between(0, 1).all()
    assert (run_dir / "risk_coverage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run_dir.glob(".*.tmp"))
    assert not (tmp_path / "outputs").exists()  # Hydra neither changed cwd nor wrote run folders

    [wandb_run] = (run_dir / "wandb").glob("offline-run-*-trainrun1")  # attached to the given run id
    [table_file] = (wandb_run / "files" / "media" / "table").rglob("coverage_sweep*.table.json")
    logged = json.loads(table_file.read_text())
    assert "coverage" in logged["columns"] and len(logged["data"]) == 12
    column = logged["columns"].index("coverage")
    assert [row[column] for row in logged["data"]] == pytest.approx(sweep["coverage"].tolist())
    assert list((wandb_run / "files" / "media" / "images").rglob("risk_coverage*.png"))


def test_cli_names_a_missing_column(tmp_path):
    predictions = tmp_path / "predictions.csv"
    write_predictions(predictions, n=20, drop="score")
    done = run_cli(tmp_path, f"predictions={predictions}", "logger.enabled=false")
    assert done.returncode != 0
    assert "missing column(s) ['score']" in done.stderr
    assert not (tmp_path / "thresholds.json").exists()


GOOD_ROWS = "eval/a.jpg,office,obstacle,0.9\neval/b.jpg,office,no_obstacle,0.1\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r":1: empty file; expected the header path,site,label,score"),
        (b"path,site,label,score\n", r":2: no predictions below the header"),
        (f"path,site,label,score\n{GOOD_ROWS}\n\neval/c.jpg,x,maybe,0.4\n".encode(), r":6: unknown label 'maybe'"),
        (f"path,site,label,score\n{GOOD_ROWS}path,site,label,score\n{GOOD_ROWS}".encode(),
         r":4: a second header line"),
        (f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,high\n".encode(), r":4: score 'high' is not a number"),
        (f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,1.7\n".encode(),
         r":4: score 1.7 is not a probability in \[0, 1\]"),
        (f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,nan\n".encode(), r":4: score nan is not a probability"),
        (f"path,site,label,score\n{GOOD_ROWS}eval/c.jpg,x,obstacle,\n".encode(), r":4: score '' is not a number"),
        ("path,site,label,score\neval/caf\u00e9.jpg,x,obstacle,0.5\n".encode("cp1252"),
         r":2: byte 0xe9 at column 9 is not UTF-8 text; save it as UTF-8"),
        (b"path,site,score\neval/a.jpg,x,0.5\n", r":1: missing column\(s\) \['label'\]"),
    ],
    ids=["empty", "header-only", "unknown-label-after-blank-lines", "second-header", "not-a-number", "above-one",
         "nan", "blank-score", "cp1252", "missing-column"],
)
def test_a_bad_predictions_file_is_named_with_its_line(tmp_path, content, message):
    path = tmp_path / "predictions.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + message):
        read_predictions(path)
    assert path.read_bytes() == content, "the input is never modified"


def test_cli_refuses_a_score_outside_zero_one_naming_file_and_row(tmp_path):
    predictions = tmp_path / "predictions.csv"
    table = write_predictions(predictions, n=20)
    table.loc[7, "score"] = 1.7
    table.to_csv(predictions, index=False)
    done = run_cli(tmp_path, f"predictions={predictions}", "logger.enabled=false")
    assert done.returncode != 0
    assert f"{predictions}:9: score 1.7 is not a probability in [0, 1]" in done.stderr
    assert not (tmp_path / "thresholds.json").exists()


def test_cli_attaches_to_the_wandb_run_already_in_the_run_folder(tmp_path):
    run_dir = tmp_path / "experiments" / "002.demo.train"
    write_predictions(run_dir / "predictions.csv", n=100)
    (run_dir / "wandb" / "offline-run-20260101_000000-train42").mkdir(parents=True)  # the training run's
    done = run_cli(tmp_path, f"predictions={run_dir / 'predictions.csv'}", "sweep.max_missed=[0.05]")
    assert done.returncode == 0, done.stderr
    assert json.loads((run_dir / "thresholds.provenance.json").read_text())["wandb"]["run_id"] == "train42"
    assert len(list((run_dir / "wandb").glob("offline-run-*-train42"))) == 2


def test_cli_reads_provenance_from_an_evaluation_written_before_metrics_json_held_numbers_only(tmp_path):
    run_dir = tmp_path / "eval"
    predictions = run_dir / "predictions.csv"
    write_predictions(predictions, n=60)
    (run_dir / "metrics.json").write_text(json.dumps({"checkpoint": "old.ckpt", "manifest_sha256": "cd34", "auroc": 0.8}))
    done = run_cli(tmp_path, f"predictions={predictions}", "logger.enabled=false", "sweep.max_missed=[0.05]")
    assert done.returncode == 0, done.stderr
    provenance = json.loads((run_dir / "thresholds.provenance.json").read_text())
    assert provenance["checkpoint"] == "old.ckpt" and provenance["manifest_sha256"] == "cd34"
    assert "wandb" not in provenance, "nothing logged"
