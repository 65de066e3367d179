"""Weighted sampling that stays correct under DDP.

torch's WeightedRandomSampler draws from the process's own RNG, so under DDP every rank
would draw a different, overlapping set. Here every rank draws the same global sample
(generator seeded with seed + epoch) and keeps every world_size-th index from its rank on:
the ranks together see exactly one weighted epoch. Subclassing DistributedSampler makes
Lightning leave it unwrapped and call `set_epoch` on it every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DistributedSampler


class DistributedWeightedSampler(DistributedSampler):
    """Indices drawn with replacement, probability proportional to weight; one shard per rank."""

    def __init__(self, weights: Sequence[float], *, num_replicas: int = 1, rank: int = 0, seed: int = 0):
        weights = torch.from_numpy(np.array(weights, dtype=np.float64))  # a writable copy
        if weights.ndim != 1 or not len(weights):
            raise ValueError("sampler weights must be a non-empty 1-D sequence")
        if not torch.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError("sampler weights must be finite, non-negative and not all zero")
        super().__init__(weights, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.weights = weights  # num_samples = ceil(n / num_replicas) per rank, as in the parent

    def global_draw(self) -> torch.Tensor:
        """This epoch's draw over all ranks (identical on every rank)."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return torch.multinomial(self.weights, self.total_size, replacement=True, generator=generator)

    def __iter__(self) -> Iterator[int]:
        return iter(self.global_draw()[self.rank : self.total_size : self.num_replicas].tolist())
