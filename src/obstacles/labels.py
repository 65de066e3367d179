"""One spelling of the two classes, accepted in every form the team writes them."""

from __future__ import annotations

import numpy as np

OBSTACLE = "obstacle"
NO_OBSTACLE = "no_obstacle"
CLASSES = (NO_OBSTACLE, OBSTACLE)  # index == target value

_TRUE = {"1", "true", OBSTACLE}
_FALSE = {"0", "false", NO_OBSTACLE}


def to_is_obstacle(labels) -> np.ndarray:
    """Labels as 1/True/"obstacle" or 0/False/"no_obstacle" -> bool array; anything else is an error."""
    values = np.asarray(labels, dtype=object).ravel()
    out = np.empty(values.shape, dtype=bool)
    for i, value in enumerate(values):
        key = str(value).strip().lower()
        if isinstance(value, (bool, np.bool_)):
            out[i] = bool(value)
        elif key in _TRUE:
            out[i] = True
        elif key in _FALSE:
            out[i] = False
        else:
            raise ValueError(
                f"unknown label {value!r} at position {i}: expected 1/True/{OBSTACLE!r} or 0/False/{NO_OBSTACLE!r}"
            )
    return out


def label_name(is_obstacle: bool) -> str:
    return OBSTACLE if is_obstacle else NO_OBSTACLE
