"""The comparison's settings: the schema conf/compare.yaml fills (Hydra's ConfigStore `compare_schema`).

The evaluation and threshold search that complete a run's results are those tools' own schemas,
filled by their own config files (conf/compare.yaml's defaults list puts conf/evaluate.yaml under
`evaluation.evaluate` and conf/thresholds.yaml under `evaluation.thresholds`), so a user sets
`evaluation.evaluate.eval.device=cpu` as `eval.device=cpu` on the evaluate command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from obstacles.evaluation.settings import EvaluateSettings
from obstacles.infra.tracking import WandbSettings
from obstacles.thresholds.settings import ThresholdsSettings


@dataclass
class EvaluationSettings:
    """Whether a run without its evaluation or thresholds gets them (in this process), and how."""

    missing: bool = MISSING  # evaluate / search the runs that lack eval/metrics.json / eval/thresholds.json
    wandb: bool = MISSING  # those log into each run's W&B run, as the tools do
    evaluate: EvaluateSettings = field(default_factory=EvaluateSettings)
    thresholds: ThresholdsSettings = field(default_factory=ThresholdsSettings)


@dataclass
class CoverageLimits:
    """The limits eval coverage is read at; None: conf/thresholds.yaml's."""

    max_missed: float | None = MISSING
    max_false_alarm: float | None = MISSING


@dataclass
class CompareSettings:
    """conf/compare.yaml: which runs, what counts as their results, the test, the outputs and W&B."""

    runs: Any = MISSING  # a folder, a list of folders, or None: the latest NNN.* run
    out_dir: str | None = MISSING
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    val_metric: str = MISSING
    limits: CoverageLimits = field(default_factory=CoverageLimits)
    coverage: str = MISSING  # obstacles.comparison.runs.COVERAGE_KINDS
    pair: str = MISSING  # obstacles.comparison.runs.COVERAGE_PAIRS
    alpha: float = MISSING
    interval_level: float = MISSING
    paths: dict[str, str] = field(default_factory=dict)  # conf/paths/default.yaml
    wandb: WandbSettings = field(default_factory=WandbSettings)


ConfigStore.instance().store(name="compare_schema", node=CompareSettings)
