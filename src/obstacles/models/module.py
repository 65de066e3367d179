"""LightningModule: one obstacle logit per [reference | current] pair (`conf/model/`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAUROC, BinaryRecall, BinarySpecificityAtSensitivity

from obstacles.lineage.names import PAIR_CHANNELS
from obstacles.models.networks import create_network
from obstacles.training.weighting import weighted_bce

IN_CHANS = (PAIR_CHANNELS, PAIR_CHANNELS + 1)  # pair, or pair + diff mask


class SpecificityAtSensitivity(BinarySpecificityAtSensitivity):
    """Only the specificity (the parent also returns the threshold), so Lightning can log it."""

    def compute(self) -> torch.Tensor:
        return super().compute()[0]


def make_metrics(prefix: str, min_sensitivity: float) -> MetricCollection:
    return MetricCollection(
        {
            "auroc": BinaryAUROC(),
            "recall": BinaryRecall(),
            f"spec_at_sens{round(min_sensitivity * 100)}": SpecificityAtSensitivity(min_sensitivity),
        },
        prefix=prefix,
    )


class ObstacleClassifier(L.LightningModule):
    """A network (`fusion`: how reference and current meet, over a timm backbone or `field_cnn`,
    obstacles.models.networks) with a one-logit head; loss = weighted BCE. `self.backbone` holds
    the whole network, from the data's tensor to the logit (export and embeddings use it).

    Batches carry a per-sample `weight` (ones unless the weighting mode puts the curve's
    weights into the loss), so the module does not need to know the weighting mode.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        in_chans: int = PAIR_CHANNELS,
        *,
        fusion: str = "early",
        difference: str | None = None,
        fusion_options: Mapping[str, object] | None = None,
        pretrained: bool = False,
        weights_path: str | Path | None = None,
        drop_rate: float | None = None,
        channels_last: bool = False,
        min_sensitivity: float = 0.9,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ):
        super().__init__()
        if in_chans not in IN_CHANS:
            raise ValueError(
                f"model.in_chans={in_chans}: must be {IN_CHANS[0]} (reference+current) or {IN_CHANS[1]} (+ diff mask)"
            )
        if isinstance(fusion_options, DictConfig):  # plain containers: checkpoints load with weights_only
            fusion_options = OmegaConf.to_container(fusion_options, resolve=True)
        # optimiser/scheduler factories are config (logged with it); the weights file is
        # only a starting point, the checkpoint holds the weights.
        self.save_hyperparameters(ignore=["optimizer", "scheduler", "weights_path"])
        self.backbone = create_network(
            fusion,
            backbone,
            fusion_options=fusion_options,
            in_chans=in_chans,
            difference=difference,
            pretrained=pretrained,
            weights_path=weights_path,
            drop_rate=drop_rate,
        )
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.backbone.to(memory_format=self.memory_format)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.train_metrics = make_metrics("train/", min_sensitivity)
        self.val_metrics = make_metrics("val/", min_sensitivity)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch,)."""
        return self.backbone(images.contiguous(memory_format=self.memory_format)).squeeze(1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled penultimate features (before the head), for similarity search."""
        features = self.backbone.forward_features(images.contiguous(memory_format=self.memory_format))
        return self.backbone.forward_head(features, pre_logits=True)

    def _step(self, batch: dict[str, torch.Tensor], stage: str, metrics: MetricCollection) -> torch.Tensor:
        logits = self(batch["image"])
        loss = weighted_bce(logits, batch["target"], batch["weight"])
        metrics.update(torch.sigmoid(logits.detach().float()), batch["target"].long())
        size = len(logits)
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, batch_size=size, sync_dist=True)
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train", self.train_metrics)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val", self.val_metrics)

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Obstacle scores in [0, 1] (sigmoid of the logit), in loader order."""
        return torch.sigmoid(self(batch["image"]).float())

    def on_train_epoch_start(self) -> None:
        if self.trainer.optimizers:
            lr = self.trainer.optimizers[0].param_groups[0]["lr"]
            self.log("lr", lr, on_step=False, on_epoch=True, sync_dist=True)

    def configure_optimizers(self):
        if self.optimizer_factory is None:
            raise ValueError("model.optimizer is not set: training needs an optimiser")
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
