"""Seed-aware comparison: the statistics (pure), the configuration key, and a real sweep of
2 values x 2 seeds compared by compare's command (in process: tests/test_commands.py runs its
command line)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from obstacles import comparison
from obstacles.runs.key import config_key, key_items
from tests.helpers.commands import run_in_process
from tests.helpers.training import write_pair_dataset

# --------------------------------------------------------------------------- the statistics

BASE = {1: 0.875, 2: 0.836, 3: 0.858, 42: 0.895}  # the demo's eval AUROC over seeds (sd 0.025)


def test_summary_is_mean_sample_sd_and_the_values_and_no_spread_below_two_seeds():
    summary = comparison.summarize({**BASE, 7: None, 8: float("nan")})
    assert summary.n == 4 and summary.values == BASE
    assert summary.mean == pytest.approx(np.mean(list(BASE.values())))
    assert summary.sd == pytest.approx(np.std(list(BASE.values()), ddof=1)) and summary.sd == pytest.approx(
        0.025, abs=1e-3
    )
    one = comparison.summarize({1: 0.8})
    assert (one.n, one.mean, one.sd) == (1, 0.8, None)
    assert comparison.summarize({}).mean is None


def test_identical_configurations_give_p_one():
    same = comparison.compare(BASE, dict(BASE))
    assert same.test == comparison.PAIRED and same.n_shared == 4
    assert same.difference == 0 and same.p_value == pytest.approx(1.0) and (same.ci_low, same.ci_high) == (0, 0)
    # same values, other seeds: a mean difference of 0 against real spread is p = 1 too
    shuffled = dict(zip(BASE, [0.836, 0.875, 0.895, 0.858]))
    assert comparison.compare(BASE, shuffled).p_value == pytest.approx(1.0)
    assert comparison.verdict(1.0, 0.05) == comparison.WITHIN


def test_a_shift_much_larger_than_the_spread_gives_a_small_p_and_an_interval_around_it():
    jitter = {1: 0.004, 2: -0.003, 3: 0.001, 42: -0.002}
    shifted = {seed: value + 0.2 + jitter[seed] for seed, value in BASE.items()}
    test = comparison.compare(BASE, shifted)
    assert test.test == comparison.PAIRED and test.p_value < 1e-4
    assert test.ci_low < 0.2 < test.ci_high and test.ci_low > 0
    assert comparison.verdict(test.p_value, 0.05) == comparison.LARGER
    # the same numbers as scipy's paired t-test (which tests a - b)
    reference = stats.ttest_rel(list(shifted.values()), list(BASE.values()))
    assert test.p_value == pytest.approx(reference.pvalue) and test.t == pytest.approx(reference.statistic)
    interval = reference.confidence_interval(0.95)
    assert (test.ci_low, test.ci_high) == (pytest.approx(interval.low), pytest.approx(interval.high))


def test_pairing_removes_the_seed_effect_that_welch_cannot():
    # seeds move both configurations alike (0.70 ... 0.90); B is 0.02 better on every seed
    a = {1: 0.70, 2: 0.80, 3: 0.90, 4: 0.75}
    b = {1: 0.721, 2: 0.819, 3: 0.922, 4: 0.768}
    paired, unpaired = comparison.paired_t(a, b), comparison.welch_t(a, b)
    assert paired.p_value < 0.01 < 0.5 < unpaired.p_value
    assert paired.difference == pytest.approx(unpaired.difference)
    welch = stats.ttest_ind(list(b.values()), list(a.values()), equal_var=False)
    assert unpaired.p_value == pytest.approx(welch.pvalue) and unpaired.df == pytest.approx(welch.df)
    interval = welch.confidence_interval(0.95)
    assert (unpaired.ci_low, unpaired.ci_high) == (pytest.approx(interval.low), pytest.approx(interval.high))
    # compare() pairs when seeds are shared, falls back to Welch when they are not
    assert comparison.compare(a, b).test == comparison.PAIRED
    other_seeds = {seed + 10: value for seed, value in b.items()}
    fallback = comparison.compare(a, other_seeds)
    assert fallback.test == comparison.WELCH and fallback.n_shared == 0
    assert fallback.p_value == pytest.approx(welch.pvalue)


def test_fewer_than_two_seeds_estimate_no_spread():
    for a, b in [({1: 0.8}, {1: 0.9}), ({1: 0.8}, {1: 0.9, 2: 0.85}), ({}, BASE)]:
        test = comparison.compare(a, b)
        assert test.test == comparison.NO_TEST and test.p_value is None and test.ci_low is None
        assert "no seed-to-seed spread can be estimated" in test.note
    assert comparison.verdict(None, 0.05) == comparison.NO_SPREAD
    with pytest.raises(ValueError, match="2 shared seeds"):
        comparison.paired_t({1: 0.8, 2: 0.9}, {1: 0.7, 3: 0.9})


def test_a_constant_difference_has_zero_standard_error_and_p_zero():
    test = comparison.compare(BASE, {seed: value + 0.01 for seed, value in BASE.items()})
    assert test.p_value == 0.0 and test.ci_low == pytest.approx(0.01) and "zero standard error" in test.note


def test_holm_adjusts_step_down_and_keeps_untested_pairs_untested():
    assert comparison.holm([0.01, 0.04, 0.03, None]) == [
        pytest.approx(0.03),
        pytest.approx(0.06),
        pytest.approx(0.06),
        None,
    ]
    assert comparison.holm([0.5, 0.9]) == [pytest.approx(1.0), pytest.approx(1.0)]
    assert comparison.holm([]) == []


# --------------------------------------------------------------------------- the configuration key

EXCLUDE = ["ckpt_path", "paths.root_dir", "trainer", "logger", "debug"]


def test_the_configuration_key_is_the_sweep_name_without_seed_and_infrastructure():
    overrides = [
        "paths.root_dir=/x",
        "weights.alfa=-2.0",
        "seed=3",
        "trainer=gpu",
        "debug=limit",
        "trainer.max_epochs=1",
        "+model.extra=[1,2]",
        "model=field_cnn",
    ]
    key = config_key(overrides, EXCLUDE)
    assert key == "+model.extra=[1,2],model=field_cnn,trainer.max_epochs=1,weights.alfa=-2.0"
    assert config_key([*overrides, "seed=4"][::-1], EXCLUDE) == key  # order and seed do not matter
    assert key_items(key) == ["+model.extra=[1,2]", "model=field_cnn", "trainer.max_epochs=1", "weights.alfa=-2.0"]
    assert config_key(["seed=1", "paths.root_dir=/y"], EXCLUDE) == "" and key_items("") == []


# --------------------------------------------------------------------------- a real sweep, compared
# (marked slow: make test-slow, and CI after make test)

QUICK = ("model=field_cnn", "data.batch_size=4", "debug=limit", "trainer.max_epochs=1")
SEEDS = [1, 2]  # the fewest that give a seed-to-seed spread
LIMITS = {"max_missed": 0.25, "max_false_alarm": 0.25}  # 1 of the 4 eval pairs of a class may be wrong
# One epoch of two batches leaves every score near 0.503: the thresholds rounded to 2 decimals decide
# nothing on any run, so the test compares the exact thresholds' coverage, which differs by seed.
COVERAGE = "exact"


def wandb_record(folder: Path) -> bytes:
    """The first offline W&B run in folder (a run's training; evaluation attaches later ones)."""
    records = sorted(folder.glob("wandb/offline-run-*/run-*.wandb"))
    assert records, f"no W&B run in {folder}"
    return records[0].read_bytes()


def own_results(job: Path) -> dict:
    """What the run itself recorded, read the plain way (not through obstacles.commands.compare)."""
    overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
    alfa = next(o.split("=", 1)[1] for o in overrides if o.startswith("weights.alfa="))
    thresholds = json.loads((job / "eval" / "thresholds.json").read_text())
    assert thresholds["limits"] == LIMITS  # searched at the configured limits
    return {
        "alfa": alfa,
        "seed": int(next(o.split("=", 1)[1] for o in overrides if o.startswith("seed="))),
        "val_auroc": json.loads((job / "run.json").read_text())["best_value"],
        "eval_auroc": json.loads((job / "eval" / "metrics.json").read_text())["auroc"],
        "eval_coverage": thresholds["empirical"]["coverage" if COVERAGE == "exact" else "coverage_rounded"],
    }


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """A 2 x 2 sweep over weights.alfa and seed, one killed job beside it, then the comparison."""
    root = tmp_path_factory.mktemp("compare")
    write_pair_dataset(root, n_pairs=32, panel=32)
    run_in_process(
        root,
        "obstacles.commands.train",
        "-m",
        f"paths.root_dir={root}",
        "dataset.name=tiny",
        *QUICK,
        "weights.alfa=-2.0,-5.0",
        f"seed={','.join(map(str, SEEDS))}",
    )
    (sweep,) = (root / "experiments").glob("*.tiny.sweep-*")
    jobs = sorted((p for p in sweep.iterdir() if p.is_dir()), key=lambda p: int(p.name.split(".", 1)[0]))
    killed = sweep / f"{len(jobs)}.seed_1+weights.alfa_-2.0+killed"
    shutil.copytree(jobs[0], killed, ignore=shutil.ignore_patterns("wandb"))
    (killed / "run.json").unlink()  # checkpoints but no completion record: a killed training
    result = run_in_process(
        root,
        "obstacles.commands.compare",
        f"paths.root_dir={root}",
        f"runs={sweep.name}",
        *(f"limits.{k}={v}" for k, v in LIMITS.items()),
        f"coverage={COVERAGE}",
        "evaluation.evaluate.eval.progress=false",
    )  # the default pair: the empirical optimum
    return root, sweep, jobs, killed, result.stdout + result.stderr


@pytest.mark.slow  # the sweep: 4 trainings, evaluated and compared
def test_seed_is_a_sweep_axis_named_in_each_job_folder(compared):
    _, _, jobs, _, _ = compared
    assert len(jobs) == 2 * len(SEEDS)
    for number, job in enumerate(jobs):
        seed, alfa = SEEDS[number % len(SEEDS)], ("-2.0", "-5.0")[number // len(SEEDS)]
        assert job.name.startswith(f"{number}.") and f"seed_{seed}" in job.name and f"weights.alfa_{alfa}" in job.name
        assert f"seed={seed}" in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())


@pytest.mark.slow  # the sweep: 4 trainings, evaluated and compared
def test_the_spread_matches_the_runs_own_metrics(compared):
    _, sweep, jobs, _, _ = compared
    table = pd.read_csv(sweep / "compare" / "configurations.csv")
    own = pd.DataFrame([own_results(job) for job in jobs])
    assert len(table) == 2 and table["runs"].tolist() == [len(SEEDS)] * 2
    assert table["seeds"].tolist() == [",".join(map(str, SEEDS))] * 2
    assert table["configuration"].tolist() == ["weights.alfa=-2.0", "weights.alfa=-5.0"]
    for row, (alfa, mine) in zip(table.itertuples(index=False), own.groupby("alfa", sort=False)):
        assert row.configuration == f"weights.alfa={alfa}"
        for metric in ("val_auroc", "eval_auroc", "eval_coverage"):
            values = mine.set_index("seed")[metric]
            assert getattr(row, f"{metric}_n") == len(SEEDS)
            assert getattr(row, f"{metric}_mean") == pytest.approx(values.mean(), abs=1e-12)
            assert getattr(row, f"{metric}_sd") == pytest.approx(values.std(ddof=1), abs=1e-12)
            logged = json.loads(getattr(row, f"{metric}_values"))
            assert logged == {str(seed): pytest.approx(value) for seed, value in values.items()}
    runs = pd.read_csv(sweep / "compare" / "runs.csv")
    assert sorted(runs["seed"].tolist()) == sorted(SEEDS * 2)


@pytest.mark.slow  # the sweep: 4 trainings, evaluated and compared
def test_each_pair_gets_a_verdict_with_its_test_and_p_value(compared):
    _, sweep, _, _, output = compared
    pairs = pd.read_csv(sweep / "compare" / "pairs.csv")
    assert pairs["metric"].tolist() == ["val_auroc", "eval_auroc", "eval_coverage"]
    assert (pairs["test"] == comparison.PAIRED).all() and (pairs["n_shared"] == len(SEEDS)).all()
    assert pairs["p_value"].between(0, 1).all() and pairs["p_holm"].between(0, 1).all()
    assert set(pairs["verdict"]) <= {comparison.LARGER, comparison.WITHIN}
    report = json.loads((sweep / "compare" / "comparison.json").read_text())
    assert report["test"] == comparison.TEST_DESCRIPTION and report["limits"] == LIMITS
    assert "paired t-test" in output and "seed noise" in output
    assert "choose a setting on val AUROC" in output, "selection is on val, eval only reports"


@pytest.mark.slow  # the sweep: 4 trainings, evaluated and compared
def test_the_picture_is_written(compared):
    _, sweep, _, _, _ = compared
    picture = sweep / "compare" / "comparison.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    assert not [p.name for p in sweep.iterdir() if ".partial" in p.name]


@pytest.mark.slow  # the sweep: 4 trainings, evaluated and compared
def test_an_unfinished_run_is_skipped_with_a_message(compared):
    _, sweep, _, killed, output = compared
    assert f"skipping {killed}" in output and "no run.json" in output
    report = json.loads((sweep / "compare" / "comparison.json").read_text())
    assert [s["run"] for s in report["skipped"]] == [str(killed)]
    assert not (killed / "eval").exists()  # not evaluated either


@pytest.mark.slow  # the sweep: 4 trainings, evaluated and compared
def test_the_table_goes_to_wandb_and_training_runs_carry_the_configuration_key(compared):
    _, sweep, jobs, _, _ = compared
    table = pd.read_csv(sweep / "compare" / "configurations.csv")
    record = wandb_record(sweep / "compare")
    assert b"compare/configurations" in record and b"compare/pairs" in record
    (logged,) = (sweep / "compare").glob("wandb/offline-run-*/files/media/table/compare/configurations_*.table.json")
    logged = json.loads(logged.read_text())
    assert logged["columns"] == table.columns.tolist()
    assert [row[:4] for row in logged["data"]] == table.iloc[:, :4].values.tolist()
    assert [row[5] for row in logged["data"]] == pytest.approx(table["val_auroc_mean"].tolist())
    keys = dict(zip(table["configuration"], table["config_key"]))
    for job in jobs:
        alfa = own_results(job)["alfa"]
        run = wandb_record(job)
        at = run.index(b"config_key")  # W&B config item: the key, then its JSON value
        assert json.dumps(keys[f"weights.alfa={alfa}"]).encode() in run[at : at + 200], f"{job.name}: no config_key"
        assert f"weights.alfa={alfa}" in keys[f"weights.alfa={alfa}"] and "seed" not in keys[f"weights.alfa={alfa}"]


@pytest.mark.slow  # the sweep: 4 trainings, evaluated and compared
def test_a_second_comparison_reuses_the_evaluations_and_one_seed_gives_no_spread(compared, capsys):
    from obstacles.commands.compare import run
    from obstacles.infra.config import compose

    root, sweep, jobs, _, _ = compared
    before = {job: (job / "eval" / "metrics.json").stat().st_mtime_ns for job in jobs}
    overrides = [f"paths.root_dir={root}", "wandb.enabled=false", *(f"limits.{k}={v}" for k, v in LIMITS.items())]
    cfg = compose("compare", overrides)
    cfg.runs, cfg.out_dir = [str(jobs[0]), str(jobs[len(SEEDS)])], str(root / "one-seed")  # seed 1 of each
    report = run(cfg)
    printed = capsys.readouterr().out
    assert "evaluating" not in printed and before == {
        job: (job / "eval" / "metrics.json").stat().st_mtime_ns for job in jobs
    }
    assert [c["val_auroc"]["sd"] for c in report["configurations"]] == [None, None]
    assert {p["test"] for p in report["pairs"]} == {comparison.NO_TEST}
    assert {p["verdict"] for p in report["pairs"]} == {comparison.NO_SPREAD}
    assert "no spread: fewer than 2 seeds" in printed
    assert (root / "one-seed" / "comparison.png").is_file()


def test_the_interval_level_is_not_called_confidence_beside_the_threshold_searchs_confidence():
    from obstacles.infra.config import compose

    cfg = compose("compare", ["interval_level=0.9"])
    assert cfg.interval_level == 0.9 and "confidence" not in cfg


def test_a_run_is_completed_with_the_evaluate_and_thresholds_settings_and_the_comparisons_paths_and_limits():
    from obstacles.comparison.runs import EvaluationTools
    from obstacles.infra.config import tool_settings

    overrides = ["paths.root_dir=/x", "limits.max_missed=0.2", "evaluation.wandb=false"]
    settings = tool_settings("compare", [*overrides, "evaluation.evaluate.eval.device=cpu"])
    tools = EvaluationTools.from_settings(settings)
    assert tools.evaluate.paths["datasets_dir"] == "/x/datasets" and tools.evaluate.eval.device == "cpu"
    assert tools.limits == {"max_missed": 0.2, "max_false_alarm": settings.evaluation.thresholds.limits.max_false_alarm}
    assert not tools.evaluate.wandb.enabled and not tools.thresholds.wandb.enabled
