"""Training data: manifest, per-sample tensors, augmentations, the Lightning datamodule."""

from obstacles.data.augment import PairTransform
from obstacles.data.datamodule import ObstacleDataModule
from obstacles.data.dataset import PairDataset, read_manifest

__all__ = ["ObstacleDataModule", "PairDataset", "PairTransform", "read_manifest"]
