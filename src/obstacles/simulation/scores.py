"""The deployed model's score: right on easy frames, unsure or wrong on hard ones.

Evidence grows with how much the obstacle changes the image (size x contrast) and, wrongly,
with changes that are not obstacles (lighting, shadows); a per-burst error (the model is
consistently wrong about a scene) and a small per-frame error come on top. The logistic of the
evidence is the score, so some frames land in every triage band and a few are confidently wrong.
"""

from __future__ import annotations

import numpy as np


def evidence(obstacle_signal: float, distractor: float, cfg) -> float:
    """Noise-free logit: saturating in the obstacle signal, linear in the distractor area."""
    return (
        cfg.bias + cfg.obstacle_gain * np.tanh(obstacle_signal / cfg.obstacle_scale) + cfg.distractor_gain * distractor
    )


def deployed_score(obstacle_signal: float, distractor: float, error: float, cfg) -> float:
    """Score in [0, 1], rounded to the recorder's precision."""
    logit = evidence(obstacle_signal, distractor, cfg) + error
    return round(float(1.0 / (1.0 + np.exp(-logit))), cfg.decimals)
