"""A reviewer who knows the truth: labels, skips, reversal picks and (optionally) mistakes."""

from __future__ import annotations

import numpy as np

from obstacles.lineage.names import NO_OBSTACLE, OBSTACLE, SKIP


def review(rng: np.random.Generator, is_obstacle: np.ndarray, cfg) -> tuple[list[str], list[str]]:
    """(label, opposite_label) per frame, in frame order.

    Skipped frames carry no reversal; only frames labelled obstacle are picked for reversal,
    because an obstacle that disappears ([current | reference]) is a clean no-obstacle example.
    """
    n = len(is_obstacle)
    skip, mistake, reverse = rng.random((3, n))
    labels, opposite = [], []
    for k in range(n):
        obstacle = bool(is_obstacle[k]) != bool(mistake[k] < cfg.label_noise)
        if skip[k] < cfg.skip_fraction:
            labels.append(SKIP)
            opposite.append("")
        else:
            labels.append(OBSTACLE if obstacle else NO_OBSTACLE)
            opposite.append(NO_OBSTACLE if obstacle and reverse[k] < cfg.reversal_fraction else "")
    return labels, opposite
