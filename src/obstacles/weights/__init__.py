"""Sample weights that emphasise hard cases (DESIGN section 3). Public API used by notebooks."""

from obstacles.weights.curve import (
    WEIGHT_COLUMNS,
    changed_fraction,
    compute_sample_weights,
    diff_coef,
    diff_histogram,
    diff_metric,
)

__all__ = ["WEIGHT_COLUMNS", "changed_fraction", "compute_sample_weights", "diff_coef", "diff_histogram", "diff_metric"]
