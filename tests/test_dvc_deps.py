"""dvc.yaml declares exactly what each stage runs: every module a stage's command imports inside the
package (directly, lazily inside a function, or through a package's __init__) is in its deps, so an
edit there re-runs the stage. A dependency DVC does not know about is a stale result nobody sees."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from tests.conftest import REPO

SRC = REPO / "src"
PACKAGE = "obstacles"
PIPELINES = ("dvc.yaml", "pipelines/audit/dvc.yaml")
COMMAND_MODULE = re.compile(r"python -m (obstacles(?:\.\w+)*)")


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def trivial(path: Path) -> bool:
    """A package __init__ holding only a docstring and constants: importing it runs no other code."""
    body = ast.parse(path.read_text()).body
    return all(
        isinstance(node, (ast.Expr, ast.Assign)) and not isinstance(getattr(node, "value", None), ast.Call)
        for node in body
    )


def imported_modules(path: Path, name: str) -> set[str]:
    """Package modules `path` imports anywhere in it (the module's own name gives relative imports)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(m) is not None}


def closure(entry: str) -> set[Path]:
    """Every package file that running `python -m entry` may execute."""
    seen, todo, files = set(), [entry], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        path = module_file(name)
        if path is None:
            continue
        if not (path.name == "__init__.py" and trivial(path)):
            files.add(path)
        todo.extend(imported_modules(path, name))
        if path.name == "__init__.py" and name == entry:  # `python -m package` runs its __main__
            todo.append(f"{name}.__main__")
    return files


def stages():
    for pipeline in PIPELINES:
        document = yaml.safe_load((REPO / pipeline).read_text())
        for stage_name, stage in document["stages"].items():
            body = stage.get("do", stage)
            yield pytest.param(pipeline, body, id=f"{pipeline}:{stage_name}")


@pytest.mark.parametrize(("pipeline", "stage"), list(stages()))
def test_every_module_a_stage_runs_is_one_of_its_deps(pipeline, stage):
    (entry,) = COMMAND_MODULE.findall(stage["cmd"])
    deps = [dep for dep in stage.get("deps", []) if isinstance(dep, str) and dep.startswith("src/")]
    covered = [REPO / dep for dep in deps]
    missing = sorted(
        path.relative_to(REPO).as_posix()
        for path in closure(entry)
        if not any(path == dep or dep in path.parents for dep in covered)
    )
    assert missing == [], f"{pipeline}: `{stage['cmd'].split()[2]}` imports modules missing from its deps: {missing}"


@pytest.mark.parametrize(("pipeline", "stage"), list(stages()))
def test_every_code_dep_of_a_stage_is_code_it_runs(pipeline, stage):
    """The other way round: a listed module the command never imports re-runs the stage for nothing."""
    (entry,) = COMMAND_MODULE.findall(stage["cmd"])
    ran = closure(entry)
    deps = [dep for dep in stage.get("deps", []) if isinstance(dep, str) and dep.startswith("src/")]
    unused = [dep for dep in deps if not any(path == REPO / dep or REPO / dep in path.parents for path in ran)]
    assert unused == [], f"{pipeline}: `{stage['cmd'].split()[2]}` lists deps it never imports: {unused}"


def experiment_chain(name: str) -> list[str]:
    """conf/experiment/<name>.yaml and every recipe its defaults list builds on, in order."""
    path = REPO / "conf" / "experiment" / f"{name}.yaml"
    chain = [path.relative_to(REPO).as_posix()]
    for entry in yaml.safe_load(path.read_text()).get("defaults", []):
        if isinstance(entry, str) and entry != "_self_" and (REPO / "conf" / "experiment" / f"{entry}.yaml").is_file():
            chain += experiment_chain(entry)
    return chain


def test_the_train_stage_depends_on_every_recipe_the_demo_builds_on():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["train"]
    recipe = re.search(r"experiment=(\w+)", stage["cmd"]).group(1)
    chain = experiment_chain(recipe)
    assert len(chain) > 1, "the demo recipe no longer builds on another: keep this test meaningful"
    assert [dep for dep in chain if dep not in stage["deps"]] == []
