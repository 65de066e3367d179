"""Where the sample weights go (`conf/weighting/`): the loss, the sampler, both or neither.

The weights themselves come from the curve of DESIGN section 3 (`obstacles.weights`),
computed from the manifest's stored diff_metric at load time, so sweeping the curve never
touches an image. `both` applies them twice (drawn in proportion to w, then weighted by w).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class WeightingMode:
    """Whether the sample weights scale the loss and/or drive the sampler."""

    in_loss: bool
    in_sampler: bool


WEIGHTING_MODES = {
    "none": WeightingMode(in_loss=False, in_sampler=False),
    "loss": WeightingMode(in_loss=True, in_sampler=False),
    "sampler": WeightingMode(in_loss=False, in_sampler=True),
    "both": WeightingMode(in_loss=True, in_sampler=True),
}


def get_weighting_mode(name: str) -> WeightingMode:
    try:
        return WEIGHTING_MODES[name]
    except KeyError:
        raise ValueError(f"unknown weighting mode {name!r}; choose one of {sorted(WEIGHTING_MODES)}") from None


def balance_classes(weights: np.ndarray, is_obstacle: np.ndarray) -> np.ndarray:
    """Rescale each class so both carry the same total weight (overall mean unchanged)."""
    weights = np.asarray(weights, dtype=np.float64)
    is_obstacle = np.asarray(is_obstacle, dtype=bool)
    present = [members for members in (is_obstacle, ~is_obstacle) if members.any()]
    share = weights.sum() / len(present)
    out = weights.copy()
    for members in present:
        out[members] *= share / weights[members].sum()
    return out


@dataclass(frozen=True)
class WeightPlan:
    """Per-sample weights for the loss (always set; ones when unused) and for the sampler."""

    loss: np.ndarray
    sampler: np.ndarray | None


def plan_weights(sample_weights: np.ndarray, is_obstacle: np.ndarray, mode: str, class_balance: bool) -> WeightPlan:
    """Route the curve's weights according to the weighting mode."""
    chosen = get_weighting_mode(mode)
    weights = np.asarray(sample_weights, dtype=np.float64)
    if class_balance:
        if not (chosen.in_loss or chosen.in_sampler):
            warnings.warn("weighting.class_balance is ignored with weighting mode 'none'", stacklevel=2)
        weights = balance_classes(weights, is_obstacle)
    return WeightPlan(
        loss=weights if chosen.in_loss else np.ones_like(weights),
        sampler=weights if chosen.in_sampler else None,
    )


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per sample, averaged with the batch's weights as denominator.

    Normalising by the weight sum keeps the loss scale (and so the learning rate) independent
    of the curve's overall level; with all-ones weights this is the plain mean.
    """
    losses = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (losses * weights).sum() / weights.sum()
