"""Evaluation of a trained classifier at single thresholds (DESIGN section 4).

`python -m obstacles.commands.evaluate` (conf/evaluate.yaml) runs `evaluate(cfg)`: scoring in
`scoring`, tables and figures in `report`, error galleries in `gallery`, the checks of the checkpoint against
the data settings in `settings`, W&B in `wandb_log`.
"""

from obstacles.evaluation.job import evaluate

__all__ = ["evaluate"]
