"""The code deps of every DVC stage, from one import walk: `make dvc-deps` writes them into the
pipelines and `tests/test_dvc_deps.py` checks them, so a helper that moves between modules re-runs
exactly the stages that run it, and nobody edits stage lists by hand.

A stage's code is every package module its `python -m <module>` may execute: what it imports
anywhere (at the top, lazily inside a function, or through a package's `__init__`), transitively.
A package `__init__` holding only a docstring and constants runs no code and is left out.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterator
from pathlib import Path

from ruamel.yaml import YAML

from obstacles.infra.dvc_cli import PIPELINES

PACKAGE = "obstacles"
COMMAND_MODULE = re.compile(r"python -m (obstacles(?:\.\w+)*)")
CODE_PREFIX = "src/"


def module_file(source_root: Path, name: str) -> Path | None:
    base = source_root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def runs_no_code(path: Path) -> bool:
    """A package __init__ holding only a docstring and constants: importing it runs no other code."""
    body = ast.parse(path.read_text()).body
    return all(
        isinstance(node, (ast.Expr, ast.Assign)) and not isinstance(getattr(node, "value", None), ast.Call)
        for node in body
    )


def imported_modules(source_root: Path, path: Path, name: str) -> set[str]:
    """Package modules `path` imports anywhere in it (the module's own name gives relative imports)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(source_root, m) is not None}


def closure(source_root: Path, entry: str) -> set[Path]:
    """Every package file that running `python -m entry` may execute."""
    seen, todo, files = set(), [entry], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        path = module_file(source_root, name)
        if path is None:
            continue
        if not (path.name == "__init__.py" and runs_no_code(path)):
            files.add(path)
        todo.extend(imported_modules(source_root, path, name))
        if path.name == "__init__.py" and name == entry:  # `python -m package` runs its __main__
            todo.append(f"{name}.__main__")
    return files


def stage_entry(command: str) -> str:
    (entry,) = COMMAND_MODULE.findall(command)
    return entry


def code_deps(root: Path, command: str) -> list[str]:
    """The stage's code deps, as project-relative paths in a stable order."""
    return sorted(path.relative_to(root).as_posix() for path in closure(root / "src", stage_entry(command)))


def stage_bodies(document) -> Iterator[tuple[str, dict]]:
    for name, stage in document["stages"].items():
        yield name, stage.get("do", stage)


def with_code_deps(deps: list, code: list[str]) -> list:
    """`deps` with its code entries replaced by `code`, placed where the first code entry was."""
    is_code = [isinstance(dep, str) and dep.startswith(CODE_PREFIX) for dep in deps]
    at = is_code.index(True) if any(is_code) else len(deps)
    before = [dep for dep, code_dep in zip(deps[:at], is_code[:at]) if not code_dep]
    after = [dep for dep, code_dep in zip(deps[at:], is_code[at:]) if not code_dep]
    return before + code + after


def write_code_deps(root: Path, pipeline: str) -> list[str]:
    """Rewrites the code deps of every stage of `pipeline` (comments and the rest kept); returns the
    names of the stages whose deps changed."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    path = root / pipeline
    document = yaml.load(path.read_text())
    changed = []
    for name, stage in stage_bodies(document):
        deps = stage.get("deps", [])
        new = with_code_deps(list(deps), code_deps(root, stage["cmd"]))
        if new != list(deps):
            changed.append(name)
            deps.clear()
            deps.extend(new)
    if changed:
        buffer = io.StringIO()
        yaml.dump(document, buffer)
        path.write_text(buffer.getvalue())
    return changed


def write_all(root: Path | None = None) -> None:
    root = root or Path.cwd()
    for pipeline in PIPELINES:
        changed = write_code_deps(root, pipeline)
        print(f"{pipeline}: {', '.join(changed) if changed else 'code deps up to date'}")
