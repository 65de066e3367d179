"""Evaluate a checkpoint: `python -m obstacles.commands.evaluate [ckpt_path=...|run_dir=...] [overrides]`.

Thin entry point over `obstacles.evaluation.evaluate` (config: conf/evaluate.yaml, filling
`obstacles.evaluation.settings.EvaluateSettings`). Without
ckpt_path it takes the latest run's best checkpoint; outputs go to `<run folder>/eval/`.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from obstacles.evaluation.job import evaluate
from obstacles.infra.config import entry_point


def run(cfg: DictConfig) -> dict:
    """Evaluate, then print the numbers the team reads first."""
    report = evaluate(OmegaConf.to_object(cfg))
    print(
        f"AUROC {report['auroc']:.4f}, AP {report['average_precision']:.4f}, "
        f"specificity {report['specificity_at_sensitivity']:.4f} at recall >= {report['sensitivity_target']:g} "
        f"({report['n']} pairs)"
    )
    for tag, row in report["thresholds"].items():
        print(
            f"  {tag}: recall {row['recall']:.4f}, specificity {row['specificity']:.4f}, FN {row['fn']}, FP {row['fp']}"
        )
    print(f"outputs: {report['out_dir']}")
    return report


main = entry_point("evaluate", run)

if __name__ == "__main__":
    main()
