"""The pipeline's settings (conf/pipeline.yaml, typed as `PipelineSettings` for the tools built on it)
and what every stage reads from them: its site's folders and the bad-input policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import MISSING, DictConfig

from obstacles.io.bad_inputs import BadInputs


def site_name(cfg: DictConfig) -> str:
    if cfg.get("site") is None:
        raise SystemExit("this stage needs a site: add site=<recording id> (one of conf/site/*.yaml)")
    return str(cfg.site.name)


def site_dir(cfg: DictConfig, site: str | None = None) -> Path:
    """datasets/<site>/: every per-site derivative lives here."""
    return Path(cfg.paths.datasets_dir) / (site or site_name(cfg))


def bad_inputs(cfg: DictConfig) -> BadInputs:
    return BadInputs(str(cfg.on_bad_input), root=Path(cfg.paths.root_dir))


@dataclass
class DatasetSettings:
    """conf/dataset/default.yaml: the merged dataset."""

    name: str = MISSING
    dir: str = MISSING
    manifest: str = MISSING
    panels: int = MISSING
    weights_dir: str = MISSING


@dataclass
class SiteSettings:
    """conf/site/<id>.yaml: one recording's constants."""

    name: str = MISSING
    pixel_threshold: float = MISSING


@dataclass
class RecordingSettings:
    """conf/pipeline.yaml `recording`: what the recorder writes and the limits its files are read with."""

    panels: int = MISSING
    score_field: str = MISSING
    max_pixels: int = MISSING
    min_panel_px: int = MISSING
    max_json_bytes: int = MISSING
    max_json_depth: int = MISSING


@dataclass
class SrcSettings:
    """conf/pipeline.yaml `src`: the triage cut-offs and score bands."""

    obstacle_above: float = MISSING
    no_obstacle_at_most: float = MISSING
    nranges: int = MISSING


@dataclass
class MaskTrainSettings:
    """conf/pipeline.yaml `mask_train`: the label a reversed pick defaults to."""

    reversed_default_label: str = MISSING


@dataclass
class NoMaskTrainSettings:
    """conf/pipeline.yaml `no_mask_train`: the one re-encode and the reversed copies' names."""

    jpeg_quality: int = MISSING
    reversed_suffix: str = MISSING  # names an image's reversed copy: <stem><suffix>


@dataclass
class SplitSettings:
    """conf/pipeline.yaml `split`: train / val / eval fractions, seed and burst grouping."""

    eval_fraction: float = MISSING
    val_fraction: float = MISSING
    seed: int = MISSING
    burst_gap_s: float = MISSING


@dataclass
class WeightsReportSettings:
    """conf/pipeline.yaml `weights_report`: the weights stage's check of its curve."""

    max_share: float = MISSING
    tolerance: float = MISSING


@dataclass
class PipelineSettings:
    """conf/pipeline.yaml: the paths, dataset, registered sites and the stages' settings."""

    paths: dict[str, str] = field(default_factory=dict)  # conf/paths/default.yaml
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    weights: dict[str, float] = field(default_factory=dict)  # conf/weights/default.yaml
    sites: list[str] = field(default_factory=list)  # conf/sites.yaml
    site: SiteSettings | None = None  # site=<id>
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    src: SrcSettings = field(default_factory=SrcSettings)
    on_bad_input: str = MISSING
    mask_train: MaskTrainSettings = field(default_factory=MaskTrainSettings)
    no_mask_train: NoMaskTrainSettings = field(default_factory=NoMaskTrainSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    weights_report: WeightsReportSettings = field(default_factory=WeightsReportSettings)
    workers: int = MISSING
