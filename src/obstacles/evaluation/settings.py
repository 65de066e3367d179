"""An evaluation's settings (`EvaluateSettings`: the schema conf/evaluate.yaml fills, Hydra's
ConfigStore `evaluate_schema`), and the settings it reads its images with, checked against the
checkpoint they must fit.

The checkpoint's own hyperparameters (saved by `ObstacleClassifier`) rebuild the network
(`obstacles.runs.loading`); the run's config (or the settings expected for this evaluation: a
mapping of `EXPECTED_KEYS` to the values set) says how the data must be read. A disagreement
between the two would score garbage or crash mid-way, so it stops the evaluation first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from obstacles.infra.tracking import WandbSettings
from obstacles.lineage.names import EVAL, PAIR_CHANNELS
from obstacles.runs.lookup import Run

# What an evaluation may set to override (or check against) the run's config, as dotted config keys.
EXPECTED_KEYS = (
    "model.backbone",
    "model.in_chans",
    "data.with_diff_mask",
    "data.panels",
    "data.panel_size",
    "dataset.name",
)


@dataclass
class ScoringSettings:
    """Which split to score and how; the thresholds and recall the metrics are reported at."""

    split: str = MISSING
    thresholds: list[float] = MISSING  # checked (distinct, finite) before scoring
    sensitivity: float = MISSING
    batch_size: int = MISSING
    num_workers: int = MISSING
    device: str = MISSING  # "auto": cuda when available, else cpu
    progress: bool = MISSING


@dataclass
class GallerySettings:
    """How the FN/FP galleries name and show their images."""

    score_decimals: int = MISSING
    thumb_width: int = MISSING


@dataclass
class ExpectedModel:
    """Architecture expected of the checkpoint; None: the run's config."""

    backbone: str | None = MISSING
    in_chans: int | None = MISSING


@dataclass
class ExpectedData:
    """How the images are read; None: the run's config."""

    with_diff_mask: bool | None = MISSING
    panels: int | None = MISSING
    panel_size: int | None = MISSING


@dataclass
class DatasetChoice:
    """The dataset scored (None: the run's) and its manifest's name inside the dataset's folder."""

    name: str | None = MISSING
    manifest_file: str = MISSING


@dataclass
class EvaluateSettings:
    """conf/evaluate.yaml: which run, the settings expected of it, scoring, galleries, paths and W&B."""

    ckpt_path: str | None = MISSING
    run_dir: str | None = MISSING
    out_dir: str | None = MISSING  # None: <run folder>/eval
    model: ExpectedModel = field(default_factory=ExpectedModel)
    data: ExpectedData = field(default_factory=ExpectedData)
    dataset: DatasetChoice = field(default_factory=DatasetChoice)
    eval: ScoringSettings = field(default_factory=ScoringSettings)
    gallery: GallerySettings = field(default_factory=GallerySettings)
    paths: dict[str, str] = field(default_factory=dict)  # conf/paths/default.yaml
    wandb: WandbSettings = field(default_factory=WandbSettings)

    def expected(self) -> dict[str, object]:
        """The `EXPECTED_KEYS` set (not None), as dotted key -> value."""
        values = {key: getattr(getattr(self, key.split(".")[0]), key.split(".")[1]) for key in EXPECTED_KEYS}
        return {key: value for key, value in values.items() if value is not None}


ConfigStore.instance().store(name="evaluate_schema", node=EvaluateSettings)


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


def find_setting(expected: Mapping[str, object], target: Run, key: str) -> Setting | None:
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


def required(setting: Setting | None, key: str, target: Run) -> object:
    if setting is None:
        raise ValueError(f"{key} is unknown: no run config at {target.config_path}; set {key}= for this checkpoint")
    return setting.value


def data_settings(expected: Mapping[str, object], target: Run, hparams: dict) -> DataSettings:
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


def split_caveat(target: Run, split: str) -> str | None:
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
