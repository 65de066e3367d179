"""Evaluation of a trained classifier at single thresholds (DESIGN section 4).

`python -m obstacles.commands.evaluate` (conf/evaluate.yaml, filling `settings.EvaluateSettings`) runs
`evaluate(settings)`, which hands its parts to `run_evaluation`'s explicit arguments (what notebooks
call): scoring in `scoring`, tables and figures in `report`, error galleries in `gallery`, the settings
and their checks against the checkpoint in `settings`, W&B in `wandb_log`.
"""
