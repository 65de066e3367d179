"""Obstacle classification experiments: datasets, weights, training, evaluation, thresholds."""

__version__ = "0.1.0"
