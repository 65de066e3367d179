"""The tests' commands run forked from a warm server (`warm_python`): a child must look like a fresh
`python -m` to the command (arguments, folder, environment, exit code, output, atexit)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from warm_python import FRESH_ENV, shared_server

PROBE = """
import atexit, json, os, sys
atexit.register(lambda: print("atexit ran"))
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "path0": sys.path[0], "env": os.environ.get("PROBE"),
                  "stdin": sys.stdin.read(), "main": __name__}))
print("to stderr", file=sys.stderr)
if sys.argv[1] == "raise":
    raise ValueError("probe failed")
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def warm():
    return shared_server()  # the one every command of this test process runs in


@pytest.mark.parametrize("ending", ["0", "3", "raise"])
def test_a_forked_command_sees_and_ends_as_a_fresh_python_m(warm, tmp_path, ending):
    (tmp_path / "probe_module.py").write_text(PROBE)
    env = {key: value for key, value in os.environ.items() if key != FRESH_ENV} | {"PROBE": "é & <x>"}
    fresh = subprocess.run(
        [sys.executable, "-m", "probe_module", ending, "two words"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    forked = warm.run("probe_module", [ending, "two words"], tmp_path, env, timeout=60)
    assert (forked.returncode, forked.stdout) == (fresh.returncode, fresh.stdout)
    assert forked.stdout.endswith("atexit ran\n") and str(tmp_path) in forked.stdout
    assert (
        forked.stderr.splitlines()[0] == "to stderr" and forked.stderr.splitlines()[-1] == fresh.stderr.splitlines()[-1]
    )


def test_a_command_past_its_timeout_is_killed_and_the_server_goes_on(warm, tmp_path):
    (tmp_path / "sleeper.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    with pytest.raises(subprocess.TimeoutExpired):
        warm.run("sleeper", [], tmp_path, dict(os.environ), timeout=1)
    (tmp_path / "probe_module.py").write_text(PROBE)
    assert warm.run("probe_module", ["0"], tmp_path, dict(os.environ), timeout=60).returncode == 0
