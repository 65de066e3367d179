"""Weighting modes, class balance, the weighted loss and the DDP-safe weighted sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from obstacles.training.sampler import DistributedWeightedSampler
from obstacles.training.weighting import WEIGHTING_MODES, balance_classes, plan_weights, weighted_bce

IS_OBSTACLE = np.array([True, True, False, False, False, False])
CURVE = np.array([3.0, 1.0, 1.0, 2.0, 1.0, 1.0])


def test_weighted_bce_matches_hand_computation():
    logits = torch.tensor([2.0, -1.0, 0.5])
    targets = torch.tensor([1.0, 0.0, 0.0])
    weights = torch.tensor([1.0, 3.0, 2.0])
    per_sample = [np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0)), np.log1p(np.exp(0.5))]
    expected = (1.0 * per_sample[0] + 3.0 * per_sample[1] + 2.0 * per_sample[2]) / 6.0
    assert weighted_bce(logits, targets, weights).item() == pytest.approx(expected, rel=1e-6)
    assert weighted_bce(logits, targets, torch.ones(3)).item() == pytest.approx(np.mean(per_sample), rel=1e-6)


@pytest.mark.parametrize("mode", sorted(WEIGHTING_MODES))
def test_each_mode_routes_the_weights(mode):
    plan = plan_weights(CURVE, IS_OBSTACLE, mode, class_balance=False)
    uses = WEIGHTING_MODES[mode]
    np.testing.assert_allclose(plan.loss, CURVE if uses.in_loss else np.ones_like(CURVE))
    if uses.in_sampler:
        np.testing.assert_allclose(plan.sampler, CURVE)
    else:
        assert plan.sampler is None


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="unknown weighting mode 'heavy'.*both"):
        plan_weights(CURVE, IS_OBSTACLE, "heavy", class_balance=False)


def test_class_balance_gives_equal_class_totals_and_keeps_the_mean():
    balanced = balance_classes(CURVE, IS_OBSTACLE)
    assert balanced[IS_OBSTACLE].sum() == pytest.approx(balanced[~IS_OBSTACLE].sum())
    assert balanced.mean() == pytest.approx(CURVE.mean())
    # within a class the curve's ratios stay
    assert balanced[0] / balanced[1] == pytest.approx(3.0)
    plan = plan_weights(CURVE, IS_OBSTACLE, "both", class_balance=True)
    np.testing.assert_allclose(plan.loss, balanced)
    np.testing.assert_allclose(plan.sampler, balanced)


def test_sampler_draws_classes_in_proportion_to_their_weight():
    is_obstacle = np.arange(1000) % 2 == 1
    weights = np.where(is_obstacle, 3.0, 1.0)  # obstacle-heavy: expect 3/4 obstacles
    draw = DistributedWeightedSampler(weights, seed=0)
    drawn = np.array(list(draw))
    assert len(drawn) == len(weights)
    assert is_obstacle[drawn].mean() == pytest.approx(0.75, abs=0.04)


def test_ranks_get_disjoint_shards_of_one_global_draw():
    weights = np.linspace(1.0, 3.0, 101)
    ranks = [DistributedWeightedSampler(weights, num_replicas=2, rank=r, seed=5) for r in (0, 1)]
    shards = [list(sampler) for sampler in ranks]
    full = ranks[0].global_draw().tolist()
    assert len(shards[0]) == len(shards[1]) == 51  # padded to a multiple of the world size
    assert shards[0] + shards[1] != full and sorted(shards[0] + shards[1]) == sorted(full)
    assert shards[0] == full[0::2] and shards[1] == full[1::2]


def test_sampler_draw_changes_with_epoch_and_repeats_with_seed():
    weights = np.ones(50)
    sampler = DistributedWeightedSampler(weights, seed=1)
    first = list(sampler)
    assert list(DistributedWeightedSampler(weights, seed=1)) == first
    sampler.set_epoch(1)
    assert list(sampler) != first


@pytest.mark.parametrize("weights", [[], [1.0, -1.0], [0.0, 0.0], [1.0, float("nan")]])
def test_sampler_rejects_unusable_weights(weights):
    with pytest.raises(ValueError, match="sampler weights"):
        DistributedWeightedSampler(weights)
