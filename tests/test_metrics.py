"""Single-threshold metrics (DESIGN section 4) against direct per-threshold loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from obstacles.metrics import (
    METRIC_COLUMNS,
    confusion_matrix,
    labels_to_bool,
    summary_metrics,
    threshold_metrics,
    validate_predictions,
)


def random_predictions(rng, n, levels=None):
    """Overlapping classes; ``levels`` quantises scores so that ties are common."""
    is_obstacle = rng.random(n) < 0.4
    scores = np.where(is_obstacle, rng.beta(4, 2, n), rng.beta(2, 4, n))
    if levels:
        scores = np.round(scores * levels) / levels
    return scores, is_obstacle


def loop_counts(scores, is_obstacle, t):
    tp = tn = fp = fn = 0
    for score, obstacle in zip(scores, is_obstacle):
        predicted = score > t
        if obstacle and predicted:
            tp += 1
        elif obstacle:
            fn += 1
        elif predicted:
            fp += 1
        else:
            tn += 1
    return tp, tn, fp, fn


def ratio(a, b):
    return a / b if b else 0.0


def test_threshold_metrics_match_a_direct_loop_with_ties():
    rng = np.random.default_rng(1)
    for trial in range(20):
        scores, is_obstacle = random_predictions(rng, int(rng.integers(1, 200)), levels=int(rng.integers(2, 30)))
        thresholds = np.concatenate([rng.choice(scores, 5), rng.random(5), [-1.0, 0.0, 0.5, 1.0, 2.0]])
        table = threshold_metrics(scores, is_obstacle, thresholds)
        assert list(table.columns) == list(METRIC_COLUMNS)
        assert np.array_equal(table["threshold"].to_numpy(), thresholds)
        for row in table.itertuples():
            tp, tn, fp, fn = loop_counts(scores, is_obstacle, row.threshold)
            assert (row.tp, row.tn, row.fp, row.fn) == (tp, tn, fp, fn)
            recall, specificity = ratio(tp, tp + fn), ratio(tn, tn + fp)
            assert row.recall == pytest.approx(recall)
            assert row.specificity == pytest.approx(specificity)
            assert row.precision == pytest.approx(ratio(tp, tp + fp))
            assert row.accuracy == pytest.approx((tp + tn) / scores.size)
            assert row.f1 == pytest.approx(ratio(2 * tp, 2 * tp + fp + fn))
            assert row.balanced_accuracy == pytest.approx((recall + specificity) / 2)


def test_zero_denominators_are_zero_not_nan():
    table = threshold_metrics([0.2, 0.8], ["obstacle", "obstacle"], [0.5, 0.9])
    assert not table.isna().any().any()
    assert table["specificity"].tolist() == [0.0, 0.0]
    assert table["precision"].tolist() == [1.0, 0.0]  # nothing predicted obstacle at 0.9


ACCEPTED_FORMS = {
    "bool": np.array([True, False, True, False, False]),
    "int": np.array([1, 0, 1, 0, 0]),
    "str": ["obstacle", "no_obstacle", "obstacle", "no_obstacle", "no_obstacle"],
    "str-digits": ["1", "0", "1", "0", "0"],
    "str-bool": ["True", "false", "TRUE", "False", "0"],
    "mixed-object": [1, False, "obstacle", 0, "no_obstacle"],
    "pandas-string": pd.Series(["obstacle", "no_obstacle", "obstacle", "no_obstacle", "no_obstacle"], dtype="string"),
}


@pytest.mark.parametrize("form", sorted(ACCEPTED_FORMS))
def test_labels_in_every_accepted_form_give_the_same_metrics(form):
    scores = [0.9, 0.1, 0.4, 0.6, 0.3]
    expected = threshold_metrics(scores, ACCEPTED_FORMS["bool"], [0.3, 0.5, 0.7])
    pd.testing.assert_frame_equal(threshold_metrics(scores, ACCEPTED_FORMS[form], [0.3, 0.5, 0.7]), expected)
    assert labels_to_bool(ACCEPTED_FORMS[form]).tolist() == ACCEPTED_FORMS["bool"].tolist()


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, np.nan, 0.3, np.inf], [1, 0, 1, 0], r"2 NaN/inf value\(s\); first at index 1"),
        ([0.1, 0.2, 0.3], ["obstacle", "no_obstacle", "obstacel"], r"unknown label 'obstacel' at position 2"),
        ([0.1, 0.2], [1, 0, 1], "2 scores but 3 labels"),
        ([], [], "empty"),
        ([0.1, 0.2], [2, 0], "unknown label 2 at position 0"),
        ([0.1, 0.2], [1, None], "unknown label None at position 1"),
    ],
)
def test_bad_predictions_are_named(scores, labels, message):
    with pytest.raises(ValueError, match=message):
        validate_predictions(scores, labels)
    with pytest.raises(ValueError, match=message):
        threshold_metrics(scores, labels, [0.5])


@pytest.mark.parametrize(
    ("labels", "missing"), [([1, 1, 1], "no no_obstacle images"), ([0, 0, 0], "no obstacle images")]
)
def test_functions_needing_both_classes_name_the_missing_one(labels, missing):
    with pytest.raises(ValueError, match=missing):
        validate_predictions([0.1, 0.5, 0.9], labels, require_both_classes=True)
    with pytest.raises(ValueError, match=missing):
        summary_metrics([0.1, 0.5, 0.9], labels)


def test_bad_thresholds_are_rejected():
    with pytest.raises(ValueError, match="thresholds must be finite"):
        threshold_metrics([0.1, 0.9], [0, 1], [0.5, np.nan])


def test_confusion_matrix_layout_and_normalisation():
    scores = [0.1, 0.2, 0.6, 0.7, 0.8, 0.4]
    labels = ["no_obstacle", "no_obstacle", "no_obstacle", "obstacle", "obstacle", "obstacle"]
    counts = confusion_matrix(scores, labels, 0.5)
    assert counts.tolist() == [[2, 1], [1, 2]]  # rows true [no_obstacle, obstacle], cols predicted
    normalised = confusion_matrix(scores, labels, 0.5, normalize=True)
    assert np.allclose(normalised, [[2 / 3, 1 / 3], [1 / 3, 2 / 3]])
    assert np.allclose(confusion_matrix([0.1], [0], 0.5, normalize=True), [[1, 0], [0, 0]])  # empty row stays 0


def test_summary_metrics_against_sklearn_and_a_threshold_loop():
    rng = np.random.default_rng(7)
    for trial in range(10):
        scores, is_obstacle = random_predictions(rng, 300, levels=int(rng.integers(5, 50)))
        sensitivity = float(rng.choice([0.5, 0.8, 0.9, 0.95, 1.0]))
        summary = summary_metrics(scores, is_obstacle, sensitivity=sensitivity)
        assert summary["auroc"] == pytest.approx(roc_auc_score(is_obstacle, scores))
        assert summary["average_precision"] == pytest.approx(average_precision_score(is_obstacle, scores))
        best = 0.0
        for t in np.concatenate([[-1.0], np.unique(scores)]):
            tp, tn, fp, fn = loop_counts(scores, is_obstacle, t)
            if tp / (tp + fn) >= sensitivity:
                best = max(best, tn / (tn + fp))
        assert summary["specificity_at_sensitivity"] == pytest.approx(best)
        assert summary["sensitivity_target"] == sensitivity
        assert (summary["n"], summary["n_obstacle"]) == (300, int(is_obstacle.sum()))
        row = threshold_metrics(scores, is_obstacle, [summary["threshold_at_sensitivity"]]).iloc[0]
        assert row.recall >= sensitivity and row.specificity == pytest.approx(best)


def test_many_thresholds_on_a_million_predictions_is_fast():
    scores, is_obstacle = random_predictions(np.random.default_rng(3), 10**6, levels=10**4)
    table = threshold_metrics(scores, is_obstacle, np.linspace(0, 1, 10_001))
    assert len(table) == 10_001
    assert (table[["tp", "tn", "fp", "fn"]].sum(axis=1) == 10**6).all()
