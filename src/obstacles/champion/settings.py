"""The champion comparison's settings: the schema conf/champion.yaml fills (Hydra's ConfigStore
`champion_schema`), and what `obstacles.champion.job.compare_champion` takes.

Light on purpose (no numpy, pandas or matplotlib): Hydra imports it to compose the config. Both
models' threshold pairs are searched as the deployment searches them: `deployment` is the threshold
search's own settings (conf/thresholds.yaml, put there by conf/champion.yaml's defaults list).
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
    deployment: ThresholdsSettings = field(default_factory=ThresholdsSettings)  # limits, confidence, rounding
    coverage_at: str = MISSING  # COVERAGE_AT
    bootstrap: BootstrapSettings = field(default_factory=BootstrapSettings)
    wandb: WandbSettings = field(default_factory=WandbSettings)


ConfigStore.instance().store(name="champion_schema", node=ChampionSettings)
