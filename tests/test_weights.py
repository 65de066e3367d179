"""Sample weights: DESIGN section 3, including the field's worked example."""

import numpy as np
import pytest

from obstacles.weights import (
    WEIGHT_COLUMNS,
    changed_fraction,
    compute_sample_weights,
    diff_coef,
    diff_histogram,
    diff_metric,
)
from obstacles.weights.curve import diff_mask

CURVE = dict(alfa=-3.5, beta=2.0, gamma=8.0, swc=2.0, std_threshold_dist=1.5)


def test_field_example_obstacle_image():
    # obstacle class mean 0.1647, std 0.1088; k = 1.5 -> threshold 0.328
    threshold = 0.1647 + 1.5 * 0.1088
    assert threshold == pytest.approx(0.328, abs=5e-4)
    assert (0.2656 - 0.328) / 0.1088 == pytest.approx(-0.5732, abs=5e-4)
    # The curve is steep here (slope ~7 per unit sigma), so evaluate it at the stated sigma.
    coef = diff_coef(-0.5732, CURVE["alfa"], CURVE["beta"], CURVE["gamma"])
    assert coef == pytest.approx(0.5127, abs=0.003)
    assert 1 + CURVE["swc"] * coef == pytest.approx(2.025, abs=0.006)


def test_table_reproduces_field_statistics():
    # Two obstacle values chosen so the class has mean 0.1647 and std 0.1088 exactly.
    metric = np.array([0.1647 - 0.1088, 0.1647 + 0.1088, 0.9, 0.1])
    labels = ["obstacle", "obstacle", "no_obstacle", "no_obstacle"]
    table = compute_sample_weights(metric, labels, **CURVE)
    assert list(table.columns) == list(WEIGHT_COLUMNS)
    assert table.loc[0, "diff_threshold"] == pytest.approx(0.1647 + 1.5 * 0.1088)
    # sigma for an obstacle is (diff - threshold) / std: the small-area image is far below it
    assert table.loc[0, "sigma_dist"] == pytest.approx((metric[0] - (0.1647 + 1.5 * 0.1088)) / 0.1088)
    # no_obstacle: mean 0.5, std 0.4, threshold 0.5 - 1.5*0.4, sign -1
    assert table.loc[2, "diff_threshold"] == pytest.approx(0.5 - 0.6)
    assert table.loc[2, "sigma_dist"] == pytest.approx(-(0.9 - (-0.1)) / 0.4)


def test_hard_cases_weigh_more_than_ideal_ones():
    rng = np.random.default_rng(0)
    obstacle = rng.uniform(0.05, 0.5, 200)
    no_obstacle = rng.uniform(0.0, 0.1, 200)
    metric = np.concatenate([obstacle, no_obstacle])
    labels = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    table = compute_sample_weights(metric, labels, **CURVE)
    w = table["sample_weight"].to_numpy()
    # obstacle: smaller changed area -> larger weight; no_obstacle: larger area -> larger weight
    assert np.all(np.diff(w[:200][np.argsort(obstacle)]) <= 1e-12)
    assert np.all(np.diff(w[200:][np.argsort(no_obstacle)]) >= -1e-12)
    assert w.min() >= 1.0 and w.max() <= 1 + CURVE["swc"]


def test_curve_is_half_at_beta_over_alfa_and_vectorised():
    assert diff_coef(2.0 / -3.5, -3.5, 2.0, 8.0) == pytest.approx(0.5)
    values = diff_coef(np.array([-1e6, 0.0, 1e6]), -3.5, 2.0, 8.0)
    assert values.shape == (3,) and np.all(np.isfinite(values))
    assert values[0] == pytest.approx(1.0) and values[2] == pytest.approx(0.0)


@pytest.mark.parametrize("obstacle_values", [[0.3], [0.2, 0.2, 0.2]])
def test_degenerate_class_gets_weight_one_and_a_warning(obstacle_values):
    metric = np.array(obstacle_values + [0.01, 0.2, 0.05])
    labels = [1] * len(obstacle_values) + [0, 0, 0]
    with pytest.warns(UserWarning, match="obstacle"):
        table = compute_sample_weights(metric, labels, **CURVE)
    assert np.all(table["sample_weight"][: len(obstacle_values)] == 1.0)
    assert np.all(np.isfinite(table.to_numpy()))
    assert table["sample_weight"][len(obstacle_values) :].max() > 1.0


def test_empty_class_and_bad_values():
    table = compute_sample_weights([0.1, 0.2, 0.3], [True, True, True], **CURVE)
    assert len(table) == 3 and np.all(np.isfinite(table.to_numpy()))
    with pytest.raises(ValueError, match="non-finite"):
        compute_sample_weights([0.1, float("nan")], [1, 0], **CURVE)
    with pytest.raises(ValueError, match="unknown label"):
        compute_sample_weights([0.1, 0.2], ["obstacle", "cat"], **CURVE)


def test_diff_metric_counts_max_channel_above_threshold():
    reference = np.zeros((10, 10, 3), np.uint8)
    current = reference.copy()
    current[:2, :, 0] = 51  # 20 pixels change by 51 in one channel only
    current[2:4, :, :] = 50  # 20 pixels change by exactly the threshold: not counted
    assert diff_metric(reference, current, 50) == pytest.approx(0.2)
    assert diff_metric(current, reference, 50) == pytest.approx(0.2)  # |.| is symmetric
    with pytest.raises(ValueError, match="shape"):
        diff_metric(reference, current[:5], 50)


@pytest.mark.parametrize("threshold", [-1, 0, 42, 42.5, 50, 254.9, 255])
def test_stored_histogram_gives_diff_metric_at_any_threshold(threshold):
    """The pipeline stores one histogram per pair; any site threshold must give the same metric
    as measuring the pixels directly."""
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 256, (3, 40, 50, 3), dtype=np.uint8)
    current = rng.integers(0, 256, (3, 40, 50, 3), dtype=np.uint8)
    histograms = np.stack([diff_histogram(r, c) for r, c in zip(reference, current)])
    assert histograms.shape == (3, 256) and (histograms.sum(axis=1) == 40 * 50).all()
    direct = [diff_mask(r, c, threshold).mean() for r, c in zip(reference, current)]
    np.testing.assert_allclose(changed_fraction(histograms, threshold), direct, rtol=0, atol=1e-12)
    assert changed_fraction(histograms[0], threshold) == pytest.approx(direct[0], abs=1e-12)


# --------------------------------------------------------------------------- defaults and spread


def realistic_spread(n=300, seed=11):
    """diff_metrics shaped like the demo's training split: most no_obstacle frames unchanged with a
    tail of lighting changes and shadows; obstacles of every size, mean about 0.09."""
    rng = np.random.default_rng(seed)
    no_obstacle = np.where(rng.random(n) < 0.55, 0.0, rng.beta(0.6, 4.0, n))
    obstacle = rng.gamma(0.7, 0.13, n).clip(max=0.95)
    labels = np.r_[np.full(n, "obstacle"), np.full(n, "no_obstacle")]
    return np.r_[obstacle, no_obstacle], labels


def test_default_curve_is_the_fields_production_value():
    from obstacles.infra.config import compose

    for config in ("pipeline", "train"):
        weights = compose(config).weights
        assert {k: weights[k] for k in CURVE} == {**CURVE, "std_threshold_dist": 0.5}, config


def test_weight_spread_finds_the_peak_and_the_shares_at_both_ends():
    from obstacles.weights.spread import class_spreads, concentrated_classes, curve_bounds, weight_spread

    weights = np.array([1.0, 1.004, 1.5, 2.0, 2.98, 2.99, 3.0, 3.0, 3.0, 3.0])
    spread = weight_spread(weights, swc=2.0, tolerance=0.01)
    assert spread.images == 10 and spread.peak_share == pytest.approx(0.6) and spread.peak_weight == 3.0
    assert spread.share_at_min_weight == pytest.approx(0.2) and spread.share_at_max_weight == pytest.approx(0.6)
    assert not spread.concentrated(0.9) and spread.concentrated(0.5)
    assert weight_spread(weights, swc=2.0, tolerance=0.0).peak_share == pytest.approx(0.4), "exactly equal only"
    assert curve_bounds(2.0) == (1.0, 3.0) and curve_bounds(-0.5) == (0.5, 1.0)
    assert not weight_spread([1.0], swc=2.0, tolerance=0.01).concentrated(0.9), "one image says nothing"
    spreads = class_spreads([3.0, 2.995, 3.0, 1.0, 1.5, 2.5], [0, 0, 0, 1, 1, 1], swc=2.0, tolerance=0.01)
    assert set(concentrated_classes(spreads, 0.9)) == {"no_obstacle"}
    with pytest.raises(ValueError, match="tolerance"):
        weight_spread(weights, swc=2.0, tolerance=-0.1)


@pytest.mark.parametrize("k, expected", [(1.5, 1.0), (0.5, 0.743)])
def test_realistic_spread_concentrates_no_obstacle_weights_only_with_the_readme_example(k, expected):
    """With k = 1.5 every no_obstacle image gets the maximum weight; the production 0.5 keeps a spread."""
    from obstacles.weights.spread import class_spreads, concentrated_classes

    metric, labels = realistic_spread()
    table = compute_sample_weights(metric, labels, **{**CURVE, "std_threshold_dist": k})
    spreads = class_spreads(table["sample_weight"], labels == "obstacle", swc=CURVE["swc"], tolerance=0.01)
    assert spreads["no_obstacle"].peak_share == pytest.approx(expected, abs=0.01)
    assert set(concentrated_classes(spreads, 0.9)) == ({"no_obstacle"} if k == 1.5 else set())


def write_training_manifest(root, metric, labels):
    import pandas as pd

    dataset = root / "datasets" / "demo_balanced"
    dataset.mkdir(parents=True)
    pd.DataFrame(
        {
            "path": [f"train/{label}/img_{i}.jpg" for i, label in enumerate(labels)],
            "site": "plant_202209_01",
            "split": "train",
            "label": labels,
            "diff_metric": metric,
        }
    ).to_csv(dataset / "manifest.csv", index=False)


@pytest.mark.parametrize(
    "overrides, warned",
    [
        (["weights.std_threshold_dist=1.5"], {"no_obstacle"}),
        (["weights.std_threshold_dist=1.5", "weights_report.max_share=1.0"], set()),  # the limit is config
        ([], set()),  # the default curve on a realistic spread
    ],
    ids=["readme-example", "max-share-1", "default"],
)
def test_weights_stage_warns_naming_a_class_whose_weights_sit_at_one_value(tmp_path, capsys, overrides, warned):
    import json

    from obstacles.stages import weights as weights_stage
    from tests.helpers.project import pipeline_cfg

    metric, labels = realistic_spread()
    write_training_manifest(tmp_path, metric, labels)
    out = weights_stage.run(pipeline_cfg(tmp_path, overrides=overrides))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: class")]
    assert {line.split()[2].rstrip(":") for line in lines} == warned
    if warned:
        assert lines == [
            (
                "warning: class no_obstacle: 100.0% of its 300 training images have weight 3.000 "
                "(within 1%; warned above 90%): the weighting does not single out its hard cases; "
                "see weight_distribution.png, or lower weights.std_threshold_dist"
            )
        ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["weights_report"] == {
        "max_share": 1.0 if "weights_report.max_share=1.0" in overrides else 0.9,
        "tolerance": 0.01,
        "min_weight": 1.0,
        "max_weight": 3.0,
    }
    no_obstacle, obstacle = summary["classes"]["no_obstacle"], summary["classes"]["obstacle"]
    if "weights.std_threshold_dist=1.5" in overrides:
        assert no_obstacle["share_at_max_weight"] == 1.0 and no_obstacle["share_at_min_weight"] == 0.0
        assert obstacle["share_at_max_weight"] == pytest.approx(0.87, abs=0.01)
    else:
        assert no_obstacle["share_at_min_weight"] == pytest.approx(0.74, abs=0.01)
        assert no_obstacle["share_at_max_weight"] == pytest.approx(0.21, abs=0.01)
        assert obstacle["share_at_max_weight"] == pytest.approx(0.567, abs=0.01)
    for stats in (no_obstacle, obstacle):
        assert 0 <= stats["share_at_min_weight"] + stats["share_at_max_weight"] <= 1
