"""Modules that moved, in one table: an old `python -m` path or import keeps working for one
release, with a deprecation message naming the new one (nothing else has to stay behind)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import runpy
import sys
import warnings

REMOVED_IN = "0.3.0"

# old module -> new module
MOVED: dict[str, str] = {
    # tools: a person's command line (`obstacles-<tool>` or `python -m obstacles.commands.<tool>`)
    **{
        f"obstacles.{tool}": f"obstacles.commands.{tool}"
        for tool in (
            "add_recording",
            "audit",
            "compare",
            "demo",
            "evaluate",
            "export",
            "folder_view",
            "review",
            "similar",
            "simulate",
            "storage",
            "train",
        )
    },
    "obstacles.thresholds.__main__": "obstacles.commands.thresholds",
    # stages: each stage, its module and its config section share one name
    "obstacles.stages.triage": "obstacles.stages.src",
    "obstacles.stages.select": "obstacles.stages.mask_train",
    "obstacles.stages.unmask": "obstacles.stages.no_mask_train",
    "obstacles.stages.diff": "obstacles.stages.diff_metrics",
    "obstacles.stages.merge": "obstacles.stages.balanced",
}


def shown(module: str) -> str:
    """How a person types the module after `python -m`."""
    return module.removesuffix(".__main__")


def deprecation(old: str) -> str:
    return f"{shown(old)} is deprecated and goes in release {REMOVED_IN}: use {shown(MOVED[old])}"


_announced: set[str] = set()  # said once per process (Hydra looks the main module up again)


def run_moved(old: str) -> None:
    """`python -m <old>`: say where it went, then run the new module as __main__."""
    print(f"warning: python -m {deprecation(old)}", file=sys.stderr)
    _announced.add(old)
    runpy.run_module(MOVED[old], run_name="__main__", alter_sys=True)


class MovedLoader(importlib.abc.Loader):
    def __init__(self, old: str) -> None:
        self.old = old

    def exec_module(self, module) -> None:
        """`import <old>`: the import gives the new module (importlib reads sys.modules back)."""
        if self.old not in _announced:
            warnings.warn(deprecation(self.old), DeprecationWarning, stacklevel=2)
        sys.modules[self.old] = importlib.import_module(MOVED[self.old])

    def get_code(self, fullname: str):
        """What `python -m <old>` runs (runpy asks the loader for code)."""
        return compile(f"from obstacles._moved import run_moved\nrun_moved({self.old!r})\n", f"<{self.old}>", "exec")


class MovedFinder(importlib.abc.MetaPathFinder):
    """Consulted after the normal finders, so only names with no module file of their own land here."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, MovedLoader(fullname), origin=MOVED[fullname])


def install() -> None:
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedFinder())
