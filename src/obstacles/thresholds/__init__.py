"""Two deployment thresholds (DESIGN section 5). Public API used by notebooks and the CLI.

`python -m obstacles.commands.thresholds predictions=<predictions.csv>` runs the search, the sweep and
their outputs (`obstacles.thresholds.job`, not imported here: it pulls in matplotlib).
"""

from obstacles.thresholds.bounds import (
    DEFAULT_CONFIDENCE,
    best_certifiable_rate,
    max_allowed_errors,
    required_samples,
    side_confidence,
    upper_bound,
)
from obstacles.thresholds.search import (
    DEFAULT_GRID,
    BoundedDecisions,
    Decisions,
    SortedPredictions,
    ThresholdResult,
    coverage_sweep,
    find_thresholds,
    limit_grid,
    sample_size_advice,
    search_per_site,
    search_sorted,
    sweep,
)

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_GRID",
    "BoundedDecisions",
    "Decisions",
    "SortedPredictions",
    "ThresholdResult",
    "best_certifiable_rate",
    "coverage_sweep",
    "find_thresholds",
    "limit_grid",
    "max_allowed_errors",
    "required_samples",
    "sample_size_advice",
    "search_sorted",
    "search_per_site",
    "side_confidence",
    "sweep",
    "upper_bound",
]
