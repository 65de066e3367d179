"""The curation tools' settings: one schema per tool (audit, label_issues, data_map, similar,
review), each the one its conf/<tool>.yaml fills (Hydra's ConfigStore `<tool>_schema`).

Light on purpose (no torch, timm or matplotlib): Hydra imports it to compose any of these configs.
The dataset tools compose with conf/pipeline.yaml (paths, dataset and the stages' settings they
share), so their schemas extend `PipelineSettings`, its shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from obstacles.infra.tracking import WandbSettings
from obstacles.lineage.settings import PipelineSettings


@dataclass
class SheetSettings:
    """An index.html contact sheet: thumbnail height (pixels) and rows per section."""

    thumb_height: int = MISSING
    max_rows: int = MISSING


@dataclass
class AuditSettings(PipelineSettings):
    """conf/audit.yaml: the model, the near-duplicate and loss lists, how images are read, the page, W&B."""

    embedder: Any = MISSING  # conf/embedder/checkpoint.yaml, instantiated by the entry point
    ckpt_path: str | None = MISSING  # None: the latest run's best checkpoint
    dup_thresh: float = MISSING
    top_surprising: int = MISSING
    out_dir: str = MISSING
    panels: int | None = MISSING
    panel_size: int | None = MISSING  # None: the size the model was trained at
    batch_size: int = MISSING
    cache_dir: str | None = MISSING
    block_rows: int = MISSING
    sheet: SheetSettings = field(default_factory=SheetSettings)
    wandb: WandbSettings = field(default_factory=WandbSettings)


ConfigStore.instance().store(name="audit_schema", node=AuditSettings)


@dataclass
class MapSettings:
    """conf/data_map.yaml: projection, clustering and flag settings (`obstacles.curation.data_map`)."""

    pca_dims: int = MISSING  # features reduced to this many before t-SNE and k-means
    perplexity: float = MISSING
    clusters: int = MISSING
    seed: int = MISSING
    threshold: float = MISSING  # score above it: obstacle, for the error rate
    error_gap: float = MISSING
    min_judged: int = MISSING


@dataclass
class MapPageSettings:
    size: int = MISSING  # pixels of the scatter
    radius: float = MISSING  # of a point


@dataclass
class DataMapSettings(PipelineSettings, MapSettings):
    """conf/data_map.yaml: the model, the map's settings, where it goes, how images are read, W&B."""

    embedder: Any = MISSING  # conf/embedder/checkpoint.yaml, instantiated by the entry point
    ckpt_path: str | None = MISSING  # None: the latest run's best checkpoint
    out_dir: str = MISSING
    panels: int | None = MISSING
    batch_size: int = MISSING
    cache_dir: str | None = MISSING
    page: MapPageSettings = field(default_factory=MapPageSettings)
    wandb: WandbSettings = field(default_factory=WandbSettings)


ConfigStore.instance().store(name="data_map_schema", node=DataMapSettings)


@dataclass
class OpinionWeights:
    """conf/label_issues.yaml `opinions`: each out-of-sample opinion's weight in the ranked score
    (`obstacles.curation.confident.ensemble_score`); field names are the opinions' names."""

    out_of_fold: float = MISSING  # the fold models' scores
    deployed: float = MISSING  # the deployed model's recorded score
    look_alikes: float = MISSING  # the given labels of each pair's nearest neighbours


@dataclass
class LabelIssuesSettings(PipelineSettings):
    """conf/label_issues.yaml: the folds, the training recipe, where runs and report go, the page, W&B."""

    folds: int = MISSING  # K models, each scoring the fold it left out
    fold_seed: int = MISSING
    train_overrides: list[str] = field(default_factory=list)  # of conf/train.yaml: the recipe
    work_dir: str = MISSING  # the fold runs
    out_dir: str = MISSING
    batch_size: int = MISSING
    opinions: OpinionWeights = field(default_factory=OpinionWeights)
    look_alike_k: int = MISSING  # neighbours per pair of the look-alike opinion
    sheet: SheetSettings = field(default_factory=SheetSettings)
    wandb: WandbSettings = field(default_factory=WandbSettings)


ConfigStore.instance().store(name="label_issues_schema", node=LabelIssuesSettings)


@dataclass
class QuerySheetSettings:
    """similar's index.html: thumbnail height (pixels) and matches shown per query."""

    thumb_height: int = MISSING
    max_per_query: int = MISSING


@dataclass
class SimilarSettings:
    """conf/similar.yaml: the query and searched folders, the threshold and centring, the embedder,
    how images are read, the cache and the page."""

    embedder: Any = MISSING  # conf/embedder/<name>.yaml, instantiated by the entry point
    image: str = MISSING  # a query image or a folder of them
    search_dir: str = MISSING
    out_dir: str = MISSING
    sim_thresh: float = MISSING
    center: str = MISSING  # search_set or none
    center_min_images: int = MISSING
    ckpt_path: str | None = MISSING  # embedder=checkpoint: None, the latest run's best checkpoint
    panels: int | None = MISSING  # None: from the aspect ratio
    panel_size: int | None = MISSING  # None: as stored
    pixel_threshold: float = MISSING  # 7-channel models only
    batch_size: int = MISSING
    cache_dir: str | None = MISSING  # None: no cache
    sheet: QuerySheetSettings = field(default_factory=QuerySheetSettings)
    sim_decimals: int = MISSING
    paths: dict[str, str] = field(default_factory=dict)  # conf/paths/default.yaml


ConfigStore.instance().store(name="similar_schema", node=SimilarSettings)


@dataclass
class ValueSettings:
    """conf/review.yaml `value`: the weight of each signal, the model's threshold, the label issues."""

    issue_weight: float = MISSING
    disagreement_weight: float = MISSING
    uncertainty_weight: float = MISSING
    threshold: float = MISSING
    label_issues: str | None = MISSING  # label_issues.csv; absent: no issue term


@dataclass
class ReviewSettings(PipelineSettings):
    """conf/review.yaml: where the page goes, its keys and sizes, and the order it opens in."""

    embedder: Any = MISSING  # conf/embedder/checkpoint.yaml, instantiated for order=value only
    out_dir: str = MISSING
    shortcuts: dict[str, Any] = field(default_factory=dict)  # action -> KeyboardEvent.key value(s)
    advance_on_label: bool = MISSING
    view_height: int = MISSING  # pixels
    thumb_height: int = MISSING  # pixels
    order: str = MISSING  # file or value (`obstacles.curation.review.ORDERS`)
    ckpt_path: str | None = MISSING  # order=value: the current model; None: the latest run's best
    value: ValueSettings = field(default_factory=ValueSettings)
    cache_dir: str | None = MISSING
    batch_size: int = MISSING


ConfigStore.instance().store(name="review_schema", node=ReviewSettings)
