"""README is the newcomer's entry: its commands must exist and say where they run."""

from __future__ import annotations

import importlib.util
import re

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_quick_start_says_how_to_enter_the_virtualenv_the_make_targets_create():
    quick_start = section("Quick start")
    makefile = (REPO / "Makefile").read_text()
    venv = re.search(r"^VENV \?= (\S+)$", makefile, re.MULTILINE).group(1)
    assert f"source {venv}/bin/activate" in quick_start
    assert f"{venv}/bin/" in quick_start and "make venv" in quick_start
    assert re.search(r"^venv:", makefile, re.MULTILINE), "the documented `make venv` target exists"


def test_every_python_m_command_in_the_readme_exists():
    modules = set(re.findall(r"python -m (obstacles(?:\.\w+)+)", README))
    assert len(modules) > 5
    missing = sorted(m for m in modules if importlib.util.find_spec(m) is None)
    assert missing == [], f"README names modules that do not exist: {missing}"
