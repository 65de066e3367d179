"""The commands: one folder, a console script each, thin entry points over the library."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys
import tomllib

import pytest

import obstacles.commands
from obstacles.infra.config import compose
from tests.helpers.project import REPO

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
COMMANDS = sorted(info.name for info in pkgutil.iter_modules(obstacles.commands.__path__))
THIN_LINES = 80  # a command composes, unpacks, calls the library and prints: the work is elsewhere


def test_every_command_has_a_console_script_that_runs_its_main():
    assert len(COMMANDS) >= 10
    for name in COMMANDS:
        script = f"obstacles-{name.replace('_', '-')}"
        assert SCRIPTS.get(script) == f"obstacles.commands.{name}:main", script
        assert callable(importlib.import_module(f"obstacles.commands.{name}").main)
    assert len(SCRIPTS) == len(COMMANDS), "every console script is a command of obstacles.commands"


def test_commands_are_thin_entry_points():
    for name in COMMANDS:
        lines = (REPO / "src" / "obstacles" / "commands" / f"{name}.py").read_text().count("\n")
        assert lines <= THIN_LINES, f"commands/{name}.py has {lines} lines: move its work into the library"


def test_evaluates_manifest_file_name_has_its_own_key(tmp_path):
    """`dataset.manifest` is a path in every config (conf/dataset/); evaluate's file name is `manifest_file`."""
    cfg = compose("evaluate", [f"paths.root_dir={tmp_path}", "dataset.manifest_file=other.csv"])
    assert cfg.dataset.manifest_file == "other.csv" and "manifest" not in cfg.dataset
    assert compose("train", [f"paths.root_dir={tmp_path}"]).dataset.manifest.endswith("/manifest.csv")


def test_the_demo_clears_a_stale_empty_rwlock_and_leaves_a_live_one(tmp_path, monkeypatch):
    """Issue 21 item 5: a SIGINT as a stage ends can leave .dvc/tmp/rwlock empty (treeverse/dvc#7615),
    and every `dvc repro` then fails until someone deletes it."""
    import fcntl
    import os

    from obstacles.commands import demo
    from obstacles.infra.dvc_cli import DVC_PROCESS_LOCKS, RWLOCK, clear_stale_rwlock

    rwlock = tmp_path / RWLOCK
    rwlock.parent.mkdir(parents=True)
    rwlock.write_text('{"read": {}, "write": {"x": {"pid": 1, "cmd": "dvc repro"}}}')
    assert clear_stale_rwlock(tmp_path) is None and rwlock.exists(), "a lock with content is DVC's own"
    rwlock.write_text("")
    lock = tmp_path / DVC_PROCESS_LOCKS[0]
    lock.write_text("")
    fd = os.open(lock, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live DVC process holds the project
    try:
        assert clear_stale_rwlock(tmp_path) is None and rwlock.exists()
    finally:
        os.close(fd)
    ran = []
    monkeypatch.setattr(demo, "ROOT", tmp_path)
    monkeypatch.setattr(demo, "sh", lambda *command, env=None: ran.append((command, rwlock.exists())))
    demo.reproduce()
    assert ran and not any(exists for _, exists in ran), "cleared before the first dvc repro"


def test_a_bare_path_is_the_tools_main_argument_or_a_one_line_usage(tmp_path):
    """Issue 21 item 10: `obstacles-compare experiments/NNN.x.sweep` failed with Hydra's
    "extraneous input '/' expecting ..."."""
    from obstacles.infra.config import UsageError, bare_path_overrides

    sweep = "experiments/001.x.sweep/0.weights.alfa_-2.0+weights.gamma_4"
    assert bare_path_overrides(["~sites.x", "+a=1"], "simulate") == ["~sites.x", "+a=1"]
    assert bare_path_overrides([sweep, "wandb.enabled=false"], "compare") == [f"runs={sweep}", "wandb.enabled=false"]
    assert bare_path_overrides(["-m", "x=1,2", "--cfg", "job", "my run/p.csv"], "thresholds") == [
        "-m",
        "x=1,2",
        "--cfg",
        "job",
        "predictions='my run/p.csv'",
    ]
    with pytest.raises(UsageError) as usage:
        bare_path_overrides(["datasets/x/manifest.csv"], "folder_view")
    assert usage.value.code == 2 and usage.value.message.startswith("usage: obstacles-folder-view [key=value ...]")
    with pytest.raises(UsageError) as usage:
        bare_path_overrides(["a/b", "b/c"], "compare")
    assert usage.value.message.endswith("not understood: b/c")
    done = subprocess.run(
        [sys.executable, "-m", "obstacles.commands.compare", "experiments/001.x.sweep"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "extraneous input" not in done.stderr
    assert "experiments/001.x.sweep" in done.stderr, done.stderr  # compare's own answer: no such run
    done = subprocess.run(
        [sys.executable, "-m", "obstacles.commands.folder_view", "views/x"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
