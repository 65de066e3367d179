"""The threshold search's settings: the schema conf/thresholds.yaml fills (Hydra's ConfigStore
`thresholds_schema`), and what `obstacles.thresholds.job.search_predictions` takes.

Light on purpose (no numpy, torch or matplotlib): Hydra imports it to compose the config, and a
tool that only reads these settings need not pay for the search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from obstacles.infra.tracking import WandbSettings


@dataclass
class Limits:
    """The deployment limits: missed-obstacle rate and false-alarm rate."""

    max_missed: float = MISSING
    max_false_alarm: float = MISSING


@dataclass
class Rounding:
    """Deployed values: lower rounded down, upper rounded up, to `decimals`; `epsilon` is float slack."""

    decimals: int = MISSING
    epsilon: float = MISSING


@dataclass
class SweepGrid:
    """The (max_missed, max_false_alarm) pairs the coverage sweep reports."""

    max_missed: list[float] = MISSING
    max_false_alarm: list[float] = MISSING


@dataclass
class ProvenanceSources:
    """Where the provenance's checkpoint and manifest hash come from: given, else the sibling files."""

    checkpoint: str | None = MISSING
    manifest_sha256: str | None = MISSING
    sibling_files: list[str] = MISSING  # beside the predictions, read in this order


@dataclass
class SearchSettings:
    """What the search is asked (limits, confidence, rounding), the sweep's grid, and whether per site."""

    limits: Limits = field(default_factory=Limits)
    confidence: float | None = MISSING  # None: deploy the empirical optimum
    report_confidence: float = MISSING  # of the bounds reported for an empirical deployed pair
    per_site: bool = MISSING
    rounding: Rounding = field(default_factory=Rounding)
    sweep: SweepGrid = field(default_factory=SweepGrid)


@dataclass
class ThresholdsSettings(SearchSettings):
    """conf/thresholds.yaml: the search's settings, its input and output, provenance and W&B."""

    predictions: str | None = MISSING  # None: a tool that searches its own inputs (compare, champion)
    out_dir: str | None = MISSING  # None: the predictions file's folder
    provenance: ProvenanceSources = field(default_factory=ProvenanceSources)
    wandb: WandbSettings = field(default_factory=WandbSettings)


ConfigStore.instance().store(name="thresholds_schema", node=ThresholdsSettings)
