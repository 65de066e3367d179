"""Commands: one thin Hydra entry point per tool, `python -m obstacles.commands.<tool>` or the
console script `obstacles-<tool>` (pyproject.toml). Each composes `conf/<tool>.yaml` and calls
library code a notebook can call too; DVC's steps are the other commands, in `obstacles.stages`."""
