"""Two deployment thresholds (DESIGN section 5). Public API used by notebooks and the CLI.

`python -m obstacles.thresholds predictions=<predictions.csv>` runs the search and the sweep.
"""

from obstacles.thresholds.search import (
    DEFAULT_GRID,
    Decisions,
    SortedPredictions,
    ThresholdResult,
    coverage_sweep,
    find_thresholds,
    limit_grid,
    search,
    sweep,
)

__all__ = [
    "DEFAULT_GRID",
    "Decisions",
    "SortedPredictions",
    "ThresholdResult",
    "coverage_sweep",
    "find_thresholds",
    "limit_grid",
    "search",
    "sweep",
]
