"""Checks across objects, run before any training step (each object checks its own args)."""

from __future__ import annotations

from obstacles.data import ObstacleDataModule
from obstacles.models import ObstacleClassifier


def check_channels(datamodule: ObstacleDataModule, model: ObstacleClassifier) -> None:
    """The model's input channels must match what the data produces (decodes one sample)."""
    expected = model.hparams.in_chans
    if datamodule.channels != expected:
        raise ValueError(
            f"model.in_chans={expected} but data.with_diff_mask={datamodule.with_diff_mask} gives "
            f"{datamodule.channels} channels: set model.in_chans={datamodule.channels} or flip data.with_diff_mask"
        )
    datamodule.setup("fit")
    shape = tuple(datamodule.train_set[0]["image"].shape)
    if shape[0] != expected:
        raise ValueError(f"a training sample has shape {shape}, the model expects {expected} channels")
