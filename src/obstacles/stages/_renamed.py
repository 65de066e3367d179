"""Old stage module names (before each stage, its module and its config section shared one name):
`python -m obstacles.stages.<old>` still runs the stage, with a deprecation message, for one release."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

RENAMED = {
    "triage": "src",
    "select": "mask_train",
    "unmask": "no_mask_train",
    "diff": "diff_metrics",
    "merge": "balanced",
}


def renamed(old: str) -> Callable[[], None]:
    new = RENAMED[old]

    def main() -> None:
        print(
            f"warning: python -m obstacles.stages.{old} is deprecated and goes in the next release: "
            f"use python -m obstacles.stages.{new} (the stage's own name)",
            file=sys.stderr,
        )
        importlib.import_module(f"obstacles.stages.{new}").main()

    return main
