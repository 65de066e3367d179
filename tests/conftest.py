"""Pytest's hooks and the shared fixtures. The helpers live in `tests/helpers/` (imported as
`from tests.helpers.<module> import <name>`); this file only registers their fixtures and orders the
files.

Order: `make test` hands whole files to 2 processes (`-n 2 --dist loadfile --no-loadscope-reorder`,
so a file's module fixtures, such as a DVC project or a trained run, are built once). A file that
runs for 15 s or more says so with `pytestmark = pytest.mark.long`, and those files go first:
the short files then fill in around them and both processes finish together. Left to the end, the
longest file runs alone while the other process sits idle, and the suite misses its 3 minutes.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest_plugins = ("tests.helpers.html", "tests.helpers.training")  # the `browser` and `trained_run` fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: each part keeps its order


@pytest.fixture
def rng():
    """A seeded generator: a test's random inputs are the same on every run."""
    return np.random.default_rng(7)
