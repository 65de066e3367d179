"""Comparing configurations over seeds (DESIGN section 6), for `python -m obstacles.commands.compare`
and notebooks alike. Kept in four parts so the statistics stay free of files and config:

* `stats`: pure math: per-seed summaries, the paired / Welch t-test, Holm's adjustment. Its public
  names are re-exported here (`obstacles.comparison.compare`, `.summarize`, ...).
* `runs`: which folders are runs, each run's configuration (obstacles.runs.key), seed and
  three results read from its own records (val AUROC from `run.json`, eval AUROC from
  `eval/metrics.json`, eval coverage from `eval/thresholds.json`), evaluating and searching the
  runs that lack them first.
* `tables`: the runs, configurations and pairs tables built from those results (no I/O).
* `report`: what comes out: the printed summary, the figure, the output folder and the W&B run.
"""

from obstacles.comparison.stats import (
    LARGER,
    NO_SPREAD,
    NO_TEST,
    PAIRED,
    TEST_DESCRIPTION,
    WELCH,
    WITHIN,
    PairTest,
    Summary,
    compare,
    holm,
    paired_t,
    summarize,
    verdict,
    welch_t,
)

__all__ = [
    "LARGER",
    "NO_SPREAD",
    "NO_TEST",
    "PAIRED",
    "TEST_DESCRIPTION",
    "WELCH",
    "WITHIN",
    "PairTest",
    "Summary",
    "compare",
    "holm",
    "paired_t",
    "summarize",
    "verdict",
    "welch_t",
]
