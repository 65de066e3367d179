"""Obstacle classification experiments: datasets, weights, training, evaluation, thresholds."""

from obstacles import _moved

__version__ = "0.1.0"

_moved.install()  # old `python -m obstacles.<x>` paths and imports, for one release
