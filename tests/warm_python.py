"""Commands in fresh processes, without paying their imports every time.

A command a test runs spends about 6 s of CPU importing torch, Lightning and timm before it does
anything: most of a short test command's time, and on 2 cores most of `make test`'s. `WarmPython`
starts one server per test process that imports them once (`PRELOAD`), then forks a child for each
command. The child takes the command's working folder, environment, arguments and output files, and
runs `python -m <module>` through `runpy`. It exits the way an interpreter does: atexit handlers run,
an uncaught exception prints its traceback and exits 1. The command's own code (`obstacles.*`,
Hydra, W&B's run) is imported fresh in each child.

`OBSTACLES_TEST_FRESH_PYTHON=1` runs every command in a new interpreter instead. The DVC pipeline
tests always do: `dvc repro` starts the stages.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# Third-party libraries only, whose import is the same in every command. Kept out: anything that sets
# up per-process state when imported. W&B makes its media folder then, which the first child to exit
# would delete for all the others; timm and Lightning go on without it when it is missing.
PRELOAD = (
    "torch",
    "torchvision",
    "lightning.pytorch",
    "timm",
    "torchmetrics",
    "albumentations",
    "pandas",
    "scipy.stats",
)
KEPT_OUT = ("wandb",)
FRESH_ENV = "OBSTACLES_TEST_FRESH_PYTHON"
WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def become(request: dict) -> None:
    """In the forked child: turn into `python -m <module> <args>` and run it; never returns."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], WRITE), (2, request["stderr"], WRITE)):
        opened = os.open(path, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = [request["module"], *request["args"]]
    sys.path[0] = request["cwd"]  # as `python -m` puts the working folder first
    runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    sys.exit(0)


def reply(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def serve() -> None:
    """One request per line on stdin; answers the child's pid, then its exit code."""
    for name in KEPT_OUT:
        sys.modules[name] = None  # `import wandb` fails while the libraries load
    for name in PRELOAD:
        importlib.import_module(name)
    for name in KEPT_OUT:
        del sys.modules[name]  # each command imports it for itself
    gc.freeze()  # the collector leaves the loaded libraries alone: children share their pages (2 s less each)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the test process; it ends us by EOF
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            become(request)
        reply({"pid": pid})
        _, status = os.waitpid(pid, 0)
        reply({"returncode": os.waitstatus_to_exitcode(status)})


class WarmPython:
    """The test process's end of the server: `run` is `subprocess.run([python, -m, module, ...])`."""

    def __init__(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
        )
        self.pending = b""
        self.lock = threading.Lock()

    def send(self, data: bytes) -> None:
        unsent = memoryview(data)
        while unsent:  # an unbuffered pipe may take a long request (the environment) in parts
            unsent = unsent[self.server.stdin.write(unsent) :]

    def answer(self, timeout: float | None) -> dict:
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.server.stdout], [], [], timeout)
            if not ready:
                raise TimeoutError
            chunk = os.read(self.server.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the warm python server ended (exit {self.server.wait()})")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)

    def run(self, module: str, args: list[str], cwd: Path, env: dict, timeout: float) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", module, *args]
        with self.lock, tempfile.TemporaryDirectory(prefix="command-") as scratch:
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            request = {
                "module": module,
                "args": args,
                "cwd": str(cwd),
                "env": env,
                "stdout": str(out),
                "stderr": str(err),
            }
            self.send(json.dumps(request).encode() + b"\n")
            pid = self.answer(None)["pid"]
            try:
                returncode = self.answer(timeout)["returncode"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self.answer(None)
                raise subprocess.TimeoutExpired(command, timeout, out.read_text(), err.read_text()) from None
            return subprocess.CompletedProcess(command, returncode, out.read_text(), err.read_text())

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait()


_shared: WarmPython | None = None


def shared_server() -> WarmPython:
    """This test process's server, started on first use."""
    global _shared
    if _shared is None:
        _shared = WarmPython()
        atexit.register(_shared.close)
    return _shared


def run_python_module(
    module: str, args: list[str], cwd: Path, env: dict, timeout: float
) -> subprocess.CompletedProcess:
    """`python -m module args` in a fresh process: forked from the warm server, or a new interpreter."""
    if os.environ.get(FRESH_ENV):
        command = [sys.executable, "-m", module, *args]
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return shared_server().run(module, args, cwd, env, timeout)


if __name__ == "__main__":
    serve()
