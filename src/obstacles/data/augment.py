"""Augmentations of a (reference, current, mask) sample, built from config (`conf/augment/`).

Geometric transforms must move reference, current and mask together, or the model would
learn from misaligned panels: `joint` transforms run in one albumentations call with
`current` as an additional image target, so they share their random parameters (a flip
flips all three; A.ChannelShuffle applies one permutation to both images). `per_panel`
transforms (photometric ones, e.g. lighting changes between the two captures) draw their
parameters independently for each image and never touch the mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import numpy as np


class PairTransform:
    """Callable (reference, current, mask|None) -> same, for training samples."""

    def __init__(self, joint: Sequence[A.BasicTransform] = (), per_panel: Sequence[A.BasicTransform] = ()):
        self.joint = A.Compose(list(joint), additional_targets={"current": "image"})
        self.per_panel = A.Compose(list(per_panel))

    def __call__(
        self, reference: np.ndarray, current: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        targets = {"image": reference, "current": current}
        if mask is not None:
            targets["mask"] = mask
        out = self.joint(**targets)
        reference = self.per_panel(image=out["image"])["image"]
        current = self.per_panel(image=out["current"])["image"]
        return reference, current, out.get("mask")

    def reseed(self, seed: int) -> None:
        """Give this copy its own random stream (each DataLoader worker holds a forked copy)."""
        self.joint.set_random_seed(seed)
        self.per_panel.set_random_seed(seed + 1)
