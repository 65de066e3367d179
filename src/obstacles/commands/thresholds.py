"""`python -m obstacles.commands.thresholds predictions=<predictions.csv>`: search, sweep, plot, log.

Thin entry point over `obstacles.thresholds.job.search_thresholds` (config: conf/thresholds.yaml, filling
`obstacles.thresholds.settings.ThresholdsSettings`),
which says what is written where. The deployed pair is certified at ``confidence`` (default 0.95);
``confidence=null`` deploys the empirical optimum. Outputs go beside the predictions unless ``out_dir``.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from obstacles.infra.config import entry_point
from obstacles.thresholds import wording
from obstacles.thresholds.job import search_thresholds


def run(cfg: DictConfig) -> dict:
    """Search, then print the thresholds, what they guarantee and what more labelling would buy."""
    report = search_thresholds(OmegaConf.to_object(cfg))
    for line in wording.summary(report):
        print(line)
    return report


main = entry_point("thresholds", run)

if __name__ == "__main__":
    main()
