"""LightningDataModule over a balanced dataset's manifest (`conf/data/`).

Sample weights are computed in `setup` from the manifest's stored diff_metric (train split)
and the current curve parameters (`conf/weights/`), then routed by the weighting mode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, get_worker_info

from obstacles.data.augment import PairTransform
from obstacles.data.dataset import (
    PAIR_CHANNELS,
    PairDataset,
    check_image_files,
    read_manifest,
    require_manifest,
)
from obstacles.lineage.names import EVAL, SPLITS, TRAIN, VAL
from obstacles.training.sampler import DistributedWeightedSampler
from obstacles.training.weighting import get_weighting_mode, plan_weights
from obstacles.weights import compute_sample_weights

log = logging.getLogger(__name__)
SEED_MODULUS = 2**32  # numpy/albumentations seeds are 32-bit


def seed_worker_transform(worker_id: int) -> None:
    """DataLoader worker_init_fn: reseed the forked augmentation so workers differ per epoch."""
    info = get_worker_info()
    if info.dataset.transform is not None:
        info.dataset.transform.reseed(info.seed % SEED_MODULUS)


class ObstacleDataModule(L.LightningDataModule):
    """Train and val splits of `<dataset_dir>/manifest.csv` as 6- or 7-channel tensors (the eval
    split is left to evaluation; a manifest without val rows validates on eval, with a warning).

    `seed` seeds the weighted sampler (with the epoch); the loader's shuffling and the
    augmentations follow the global seed (`seed_everything`).
    """

    def __init__(
        self,
        dataset_dir: str | Path,
        manifest: str | Path,
        *,
        root_dir: str | Path = ".",
        panels: int = 2,
        with_diff_mask: bool = False,
        panel_size: int | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_transform: PairTransform | None = None,
        curve: Mapping[str, float],
        weighting: str = "none",
        class_balance: bool = False,
        seed: int | None = 0,
    ):
        super().__init__()
        self.dataset_dir = Path(dataset_dir)
        self.root_dir = Path(root_dir)  # the manifest's paths are relative to it (the project root)
        self.manifest = require_manifest(manifest, dataset_dir)
        get_weighting_mode(weighting)  # fail on an unknown mode before any data is read
        self.panels = panels
        self.with_diff_mask = with_diff_mask
        self.panel_size = panel_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.train_transform = train_transform
        self.curve = dict(curve)
        self.weighting = weighting
        self.class_balance = class_balance
        self.seed = seed or 0  # the sampler's draws must agree across DDP ranks, so never unseeded
        self.train_set: PairDataset | None = None
        self.val_set: PairDataset | None = None
        self.validation_split: str | None = None
        self.weights_table: pd.DataFrame | None = None
        self.sampler_weights: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return PAIR_CHANNELS + int(self.with_diff_mask)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        frame = read_manifest(self.manifest, self.root_dir)
        rows = {split: frame[frame["split"] == split] for split in SPLITS}
        if rows[TRAIN].empty:
            raise ValueError(f"manifest {self.manifest} has no {TRAIN} rows")
        self.validation_split = VAL if not rows[VAL].empty else EVAL
        if rows[self.validation_split].empty:
            raise ValueError(f"manifest {self.manifest} has neither {VAL} nor {EVAL} rows to validate on")
        if self.validation_split == EVAL:
            log.warning(
                "manifest %s has no %s split (split.val_fraction: 0): checkpoints are picked and training stops "
                "on %s, so metrics later reported on %s are optimistic",
                self.manifest,
                VAL,
                EVAL,
                EVAL,
            )
        train_rows, val_rows = rows[TRAIN], rows[self.validation_split]
        check_image_files(frame, self.manifest)  # eval too: a broken dataset
        is_obstacle = train_rows["is_obstacle"].to_numpy()
        self.weights_table = compute_sample_weights(train_rows["diff_metric"], is_obstacle, **self.curve)
        curve_weights = self.weights_table["sample_weight"].to_numpy()
        plan = plan_weights(curve_weights, is_obstacle, self.weighting, self.class_balance)
        self.sampler_weights = plan.sampler
        if self.train_transform is not None:
            self.train_transform.reseed(int(torch.randint(SEED_MODULUS, ()).item()))
        common = {"panels": self.panels, "with_diff_mask": self.with_diff_mask, "panel_size": self.panel_size}
        self.train_set = PairDataset(train_rows, loss_weights=plan.loss, transform=self.train_transform, **common)
        self.val_set = PairDataset(val_rows, **common)

    def _loader(self, dataset: PairDataset, **kwargs) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )

    def _sampler(self) -> DistributedWeightedSampler | None:
        if self.sampler_weights is None:
            return None
        world_size, rank = (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)
        return DistributedWeightedSampler(self.sampler_weights, num_replicas=world_size, rank=rank, seed=self.seed)

    def train_dataloader(self) -> DataLoader:
        sampler = self._sampler()
        return self._loader(
            self.train_set, sampler=sampler, shuffle=sampler is None, worker_init_fn=seed_worker_transform
        )

    def val_dataloader(self) -> DataLoader:
        """The val split (eval only for a manifest without one): never the images that report."""
        return self._loader(self.val_set, shuffle=False)
