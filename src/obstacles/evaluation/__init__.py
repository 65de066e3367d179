"""Evaluation of a trained classifier at single thresholds (DESIGN section 4).

`python -m obstacles.commands.evaluate` (conf/evaluate.yaml) runs `evaluate(cfg)`, which unpacks the
config into `run_evaluation`'s explicit arguments (what notebooks call): scoring in `scoring`, tables
and figures in `report`, error galleries in `gallery`, the checks of the checkpoint against the data
settings in `settings`, W&B in `wandb_log`.
"""

from obstacles.evaluation.job import (
    DataPaths,
    GallerySettings,
    RunSelection,
    ScoringSettings,
    evaluate,
    run_evaluation,
)
from obstacles.evaluation.settings import EXPECTED_KEYS

__all__ = [
    "EXPECTED_KEYS",
    "DataPaths",
    "GallerySettings",
    "RunSelection",
    "ScoringSettings",
    "evaluate",
    "run_evaluation",
]
