"""Callbacks that leave a readable record in the run folder, whatever the logger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import WandbLogger
from matplotlib.figure import Figure

from obstacles.lineage.names import PAIR_CHANNELS, label_name

STAGES = ("train", "val")


class TrainingCurves(Callback):
    """One row per epoch in `curves.csv` (written every epoch), `curves.png` at the end.

    The rows travel in the checkpoint, so a resumed run continues the same table.
    """

    def __init__(self, dirpath: str | Path, plots: tuple[str, ...] = ("loss", "auroc")):
        self.dirpath = Path(dirpath)
        self.plots = tuple(plots)
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        row = {"epoch": trainer.current_epoch}
        for key, value in sorted(trainer.callback_metrics.items()):
            if key.endswith("_step"):
                continue
            row[key.removesuffix("_epoch")] = float(value)
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        self.dirpath.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.rows).to_csv(self.dirpath / "curves.csv", index=False)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and self.rows:
            self.plot(pd.DataFrame(self.rows)).savefig(self.dirpath / "curves.png", dpi=100)

    def plot(self, table: pd.DataFrame) -> Figure:
        figure = Figure(figsize=(5 * len(self.plots), 4), layout="constrained")
        for axis, metric in zip(figure.subplots(1, len(self.plots), squeeze=False)[0], self.plots):
            for stage in STAGES:
                column = f"{stage}/{metric}"
                if column in table:
                    axis.plot(table["epoch"], table[column], marker="o", label=stage)
            axis.set(title=metric, xlabel="epoch")
            axis.legend()
        return figure

    def state_dict(self) -> dict:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict["rows"])


def panels_image(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) model input -> RGB (H, W * panels) in [0, 1]: reference | current (| mask)."""
    array = image.permute(1, 2, 0).numpy()
    panels = [array[..., :3], array[..., 3:PAIR_CHANNELS]]
    if array.shape[2] > PAIR_CHANNELS:
        panels.append(np.repeat(array[..., PAIR_CHANNELS:], 3, axis=2))
    return np.clip(np.concatenate(panels, axis=1), 0.0, 1.0)


class SampleGrid(Callback):
    """`samples.png`: training inputs as the model sees them (augmented), titled with label
    and sample weight; also sent to W&B when a W&B logger is attached."""

    def __init__(self, dirpath: str | Path, n_samples: int = 16, columns: int = 4):
        self.dirpath = Path(dirpath)
        self.n_samples = n_samples
        self.columns = columns

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        path = self.dirpath / "samples.png"
        self.dirpath.mkdir(parents=True, exist_ok=True)
        self.render(trainer.datamodule).savefig(path, dpi=100)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("samples", [str(path)])

    def render(self, datamodule) -> Figure:
        dataset, weights = datamodule.train_set, datamodule.weights_table["sample_weight"].to_numpy()
        indices = np.unique(np.linspace(0, len(dataset) - 1, min(self.n_samples, len(dataset))).astype(int))
        rows = -(-len(indices) // self.columns)
        figure = Figure(figsize=(3 * self.columns, 1.8 * rows), layout="constrained")
        axes = figure.subplots(rows, self.columns, squeeze=False).ravel()
        for axis in axes:
            axis.set_axis_off()
        for axis, index in zip(axes, indices):
            item = dataset[index]
            axis.imshow(panels_image(item["image"]))
            axis.set_title(f"{label_name(bool(item['target']))}  w={weights[index]:.2f}", fontsize=9)
        return figure
