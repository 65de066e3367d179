"""dvc.yaml declares exactly what each stage runs: every module a stage's command imports inside the
package (directly, lazily inside a function, or through a package's __init__) is in its deps, so an
edit there re-runs the stage. A dependency DVC does not know about is a stale result nobody sees."""

from __future__ import annotations

import re

import pytest
import yaml

from obstacles.infra.code_deps import closure, stage_bodies, stage_entry
from obstacles.infra.dvc_cli import PIPELINES
from tests.helpers.project import REPO


def stages():
    for pipeline in PIPELINES:
        for stage_name, body in stage_bodies(yaml.safe_load((REPO / pipeline).read_text())):
            yield pytest.param(pipeline, body, id=f"{pipeline}:{stage_name}")


@pytest.mark.parametrize(("pipeline", "stage"), list(stages()))
def test_every_module_a_stage_runs_is_one_of_its_deps(pipeline, stage):
    entry = stage_entry(stage["cmd"])
    deps = [dep for dep in stage.get("deps", []) if isinstance(dep, str) and dep.startswith("src/")]
    covered = [REPO / dep for dep in deps]
    missing = sorted(
        path.relative_to(REPO).as_posix()
        for path in closure(REPO / "src", entry)
        if not any(path == dep or dep in path.parents for dep in covered)
    )
    assert missing == [], (
        f"{pipeline}: `{stage['cmd'].split()[2]}` imports modules missing from its deps (make dvc-deps): {missing}"
    )


@pytest.mark.parametrize(("pipeline", "stage"), list(stages()))
def test_every_code_dep_of_a_stage_is_code_it_runs(pipeline, stage):
    """The other way round: a listed module the command never imports re-runs the stage for nothing."""
    entry = stage_entry(stage["cmd"])
    ran = closure(REPO / "src", entry)
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


def test_make_dvc_deps_writes_the_walk_and_keeps_the_rest(tmp_path):
    """The writer puts the walk's files where the code deps were, keeps every other dep and comment,
    and a second pass changes nothing."""
    from obstacles.infra.code_deps import code_deps, write_code_deps

    (tmp_path / "src").symlink_to(REPO / "src")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  split:  # a comment stays\n"
        "    foreach: [a]\n"
        "    do:\n"
        "      cmd: python -m obstacles.stages.split site=${item}\n"
        "      deps:\n"
        "        - datasets/${item}/no_mask_train\n"
        "        - src/obstacles/stages/src.py\n"
        "        - conf/pipeline.yaml\n"
    )
    assert write_code_deps(tmp_path, "dvc.yaml") == ["split"]
    written = yaml.safe_load((tmp_path / "dvc.yaml").read_text())["stages"]["split"]["do"]["deps"]
    code = code_deps(tmp_path, "python -m obstacles.stages.split")
    assert written == ["datasets/${item}/no_mask_train", *code, "conf/pipeline.yaml"]
    assert "src/obstacles/stages/split.py" in code and "src/obstacles/lineage/splitting.py" in code
    assert "src/obstacles/stages/src.py" not in code
    assert "# a comment stays" in (tmp_path / "dvc.yaml").read_text()
    assert write_code_deps(tmp_path, "dvc.yaml") == []
