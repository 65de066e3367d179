"""The settings an evaluation reads its images with, checked against the checkpoint they must fit.

The checkpoint's own hyperparameters (saved by `ObstacleClassifier`) rebuild the network
(`obstacles.runs.lookup`); the run's config (or the settings expected for this evaluation: a
mapping of `EXPECTED_KEYS` to the values set) says how the data must be read. A disagreement
between the two would score garbage or crash mid-way, so it stops the evaluation first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from obstacles.data.dataset import PAIR_CHANNELS
from obstacles.lineage.names import EVAL
from obstacles.runs.lookup import RunTarget

# What an evaluation may set to override (or check against) the run's config, as dotted config keys.
EXPECTED_KEYS = (
    "model.backbone",
    "model.in_chans",
    "data.with_diff_mask",
    "data.panels",
    "data.panel_size",
    "dataset.name",
)


@dataclass(frozen=True)
class Setting:
    """A value and where it came from, so an error can name both sides."""

    key: str
    value: object
    source: str

    def describe(self) -> str:
        return f"{self.key}={self.value!r} ({self.source})"


@dataclass(frozen=True)
class DataSettings:
    """How to read the evaluation images for this checkpoint."""

    dataset: str
    panels: int
    with_diff_mask: bool
    panel_size: int | None  # the run's data.panel_size: panels are resized as in training


def find_setting(expected: Mapping[str, object], target: RunTarget, key: str) -> Setting | None:
    """The value expected for this evaluation, else the run config's, else None."""
    explicit = expected.get(key)
    if explicit is not None:
        return Setting(key, explicit, "set for this evaluation")
    if target.config is not None:
        value = OmegaConf.select(target.config, key)
        if value is not None:
            return Setting(key, value, f"run config {target.config_path}")
    return None


def check_architecture(hparams: dict, checkpoint: Path, backbone: Setting | None, in_chans: Setting | None) -> None:
    for setting, actual in ((backbone, hparams["backbone"]), (in_chans, hparams["in_chans"])):
        if setting is not None and setting.value != actual:
            raise ValueError(
                f"checkpoint/config mismatch: {setting.describe()} but checkpoint {checkpoint} was trained with "
                f"{setting.key}={actual!r}"
            )


def diff_mask_for_checkpoint(hparams: dict, checkpoint: Path, with_diff_mask: Setting | None) -> bool:
    """data.with_diff_mask that fits the checkpoint's input channels (derived when not set)."""
    in_chans = hparams["in_chans"]
    if with_diff_mask is None:
        return in_chans == PAIR_CHANNELS + 1
    channels = PAIR_CHANNELS + int(bool(with_diff_mask.value))
    if channels != in_chans:
        raise ValueError(
            f"checkpoint/config mismatch: {with_diff_mask.describe()} gives {channels} input channels "
            f"but checkpoint {checkpoint} was trained with model.in_chans={in_chans}"
        )
    return bool(with_diff_mask.value)


def required(setting: Setting | None, key: str, target: RunTarget) -> object:
    if setting is None:
        raise ValueError(f"{key} is unknown: no run config at {target.config_path}; set {key}= for this checkpoint")
    return setting.value


def data_settings(expected: Mapping[str, object], target: RunTarget, hparams: dict) -> DataSettings:
    """Check the checkpoint against the expected settings (key -> value, only those set) and the
    run's config; the data settings that fit them all."""
    backbone, in_chans = (find_setting(expected, target, key) for key in ("model.backbone", "model.in_chans"))
    check_architecture(hparams, target.checkpoint, backbone, in_chans)
    with_diff_mask = diff_mask_for_checkpoint(
        hparams, target.checkpoint, find_setting(expected, target, "data.with_diff_mask")
    )
    return DataSettings(
        dataset=str(required(find_setting(expected, target, "dataset.name"), "dataset.name", target)),
        panels=int(required(find_setting(expected, target, "data.panels"), "data.panels", target)),
        with_diff_mask=with_diff_mask,
        panel_size=getattr(find_setting(expected, target, "data.panel_size"), "value", None),
    )


def split_caveat(target: RunTarget, split: str) -> str | None:
    """What a reader must know about numbers on this split: None for a held-out eval split."""
    selected_on = target.record.get("validation_split")
    if selected_on == split:
        return (
            f"warning: {target.run_dir} picked its checkpoint and stopped training on the {split!r} split "
            f"(its dataset has no val split: split.val_fraction 0), so these metrics are optimistic"
        )
    if split != EVAL:
        return f"note: evaluating on the {split!r} split, not the held-out {EVAL!r} split the team acts on"
    return None
