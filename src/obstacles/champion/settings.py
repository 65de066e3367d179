"""The champion comparison's settings: the schema conf/champion.yaml fills (Hydra's ConfigStore
`champion_schema`), and what `obstacles.champion.job.compare_champion` takes.

Light on purpose (no numpy, pandas or matplotlib): Hydra imports it to compose the config. Both
models' threshold pairs are searched as the deployment searches them: `deployment`'s limits,
confidence and rounding default to the threshold search's own (conf/thresholds.yaml, composed under
`thresholds` by conf/champion.yaml's defaults list and interpolated), each overridable here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from obstacles.infra.tracking import WandbSettings
from obstacles.thresholds.settings import ThresholdsSettings

COVERAGE_AT = ("rounded", "exact")  # a pair's coverage at the deployable (rounded) values, or the exact ones


@dataclass
class BootstrapSettings:
    """The paired bootstrap of the coverage difference."""

    resamples: int = MISSING
    confidence: float = MISSING
    seed: int = MISSING


@dataclass
class DeploymentSettings:
    """The limits each model's certified and empirical pair is searched at, and how."""

    max_missed: float = MISSING
    max_false_alarm: float = MISSING
    confidence: float | None = MISSING  # None: the empirical optimum only
    decimals: int = MISSING
    epsilon: float = MISSING


@dataclass
class ChampionSettings:
    """conf/champion.yaml: the two models, the test, the deployment's threshold search, outputs and W&B."""

    challenger: str = MISSING  # a run folder, an evaluation folder or a predictions.csv
    champion: str = MISSING  # "deployed" (obstacles.champion.job.DEPLOYED), or as the challenger
    manifest: str | None = MISSING  # deployed scores for predictions without the deployed_score column
    out_dir: str | None = MISSING  # None: <the challenger's predictions folder>/champion
    alpha: float = MISSING
    power: float = MISSING
    confidence: float = MISSING  # of the interval for the AUROC difference
    min_per_class: int = MISSING
    thresholds: ThresholdsSettings = field(default_factory=ThresholdsSettings)  # the defaults of `deployment`
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)
    coverage_at: str = MISSING  # COVERAGE_AT
    bootstrap: BootstrapSettings = field(default_factory=BootstrapSettings)
    wandb: WandbSettings = field(default_factory=WandbSettings)


ConfigStore.instance().store(name="champion_schema", node=ChampionSettings)
