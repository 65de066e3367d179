"""`python -m obstacles.commands.storage`: a local S3 server that leaves the user's remote settings alone.

Every case runs in a scratch DVC repository whose .dvc/config.local holds (fake) real credentials,
never in this checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest

from obstacles.infra.local_s3 import LOCAL_CREDENTIALS, local_s3_server
from tests.helpers.project import REPO

pytestmark = pytest.mark.long  # scheduled first (tests/conftest.py)

USER_LOCAL_CONFIG = (
    b"['remote \"storage\"']\n"
    b"    access_key_id = AKIAUSERSOWNKEY00000\n"
    b"    secret_access_key = users/own+secret/key\n"
    b"    region = eu-central-1\n"
)
ENDPOINT = re.compile(r"http://127\.0\.0\.1:(\d+)")
CONFIG_DIR = re.compile(r"DVC_SYSTEM_CONFIG_DIR=(\S+)")


@pytest.fixture
def scratch(tmp_path):
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    for name in ("config", ".gitignore"):
        shutil.copy2(REPO / ".dvc" / name, root / ".dvc" / name)
    (root / ".dvc" / "config.local").write_bytes(USER_LOCAL_CONFIG)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def dvc_files(root: Path) -> dict[str, bytes]:
    """Every file under .dvc except DVC's own scratch folder (.dvc/tmp, git-ignored)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / ".dvc").rglob("*"))
        if p.is_file() and "tmp" not in p.relative_to(root / ".dvc").parts
    }


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """`python -m obstacles.commands.storage` as a child process, its output collected by a thread."""

    def __init__(self, root: Path, ignored: tuple[int, ...] = ()):
        def preexec():  # as a shell's background job starts: SIGINT (and here maybe more) ignored
            for signum in ignored:
                signal.signal(signum, signal.SIG_IGN)

        env = {
            **os.environ,
            "OBSTACLES_ROOT": str(root),
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "obstacles.commands.storage"],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec,
        )  # noqa: PLW1509 - dispositions as a shell leaves them
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self.reader.start()
        self.children: list[psutil.Process] = []

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_serving(self, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = ENDPOINT.search(self.output)
            if match:
                try:
                    urllib.request.urlopen(match.group(0), timeout=1).close()
                    self.children = psutil.Process(self.process.pid).children(recursive=True)
                    return int(match.group(1))
                except OSError:
                    pass
            assert self.process.poll() is None, f"exited early:\n{self.output}"
            time.sleep(0.2)
        raise AssertionError(f"not serving after {timeout}s:\n{self.output}")

    def cleanup(self) -> None:
        for proc in [*self.children, psutil.Process(self.process.pid) if self.process.poll() is None else None]:
            if proc is not None:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass


@pytest.fixture
def start(scratch):
    servers = []

    def starter(ignored=()):
        servers.append(Server(scratch, ignored))
        return servers[-1]

    yield starter
    for server in servers:
        server.cleanup()


def assert_stopped_cleanly(server: Server, port: int, scratch: Path, before: dict[str, bytes]) -> None:
    assert server.children, "the server process was found running under the command"
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running 20 s after the signal:\n{server.output}") from None
    assert server.process.returncode == 0, server.output
    assert not port_open(port), "the S3 port is closed"
    left = [child for child in server.children if child.is_running()]
    assert not left, f"no process left behind: {left}"
    assert dvc_files(scratch) == before, ".dvc/config and .dvc/config.local are byte-for-byte as they were"
    match = CONFIG_DIR.search(server.output)
    assert match and not Path(match.group(1)).exists(), "the throw-away remote config is removed"


@pytest.mark.parametrize(
    "signum, ignored",
    [
        (signal.SIGTERM, ()),
        (signal.SIGINT, ()),
        (signal.SIGINT, (signal.SIGINT,)),  # `python -m obstacles.commands.storage &` in a script, then `kill -INT`
        (signal.SIGTERM, (signal.SIGINT, signal.SIGTERM)),
    ],
    ids=["term", "int", "int-ignored-on-entry", "term-ignored-on-entry"],
)
def test_signal_stops_server_and_leaves_user_config(start, scratch, signum, ignored):
    before = dvc_files(scratch)
    server = start(ignored)
    port = server.wait_until_serving()
    assert dvc_files(scratch) == before, "nothing written into .dvc while serving either"
    server.process.send_signal(signum)
    assert_stopped_cleanly(server, port, scratch, before)


def test_push_and_pull_through_the_named_remote_while_user_remote_is_untouched(start, scratch):
    (scratch / "sample.txt").write_text("bytes that travel through the local S3 server\n")
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "sample.txt"], cwd=scratch, check=True)
    before = dvc_files(scratch)
    server = start()
    port = server.wait_until_serving()
    match = CONFIG_DIR.search(server.output)
    assert match, server.output
    env = {**os.environ, "DVC_SYSTEM_CONFIG_DIR": match.group(1)}
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "push", "-q", "-r", "local-s3"], cwd=scratch, env=env, check=True)
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=LOCAL_CREDENTIALS["access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["secret_access_key"],
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="obstacles-classification")["Contents"]]
    assert keys and all(key.startswith("dvc-store/") for key in keys), "pushed to the default remote's url"
    (scratch / "sample.txt").unlink()
    shutil.rmtree(scratch / ".dvc" / "cache")
    subprocess.run([*dvc, "pull", "-q", "-r", "local-s3"], cwd=scratch, env=env, check=True)
    assert (scratch / "sample.txt").read_text().startswith("bytes that travel")
    default = subprocess.run(
        [*dvc, "remote", "default"], cwd=scratch, env=env, capture_output=True, text=True, check=True
    )
    assert default.stdout.strip() == "storage", "the user's default remote stays the default"
    server.process.send_signal(signal.SIGTERM)
    assert_stopped_cleanly(server, port, scratch, before)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the server's parent-death signal is Linux's")
def test_sigkill_leaves_user_config_and_takes_the_server_along(start, scratch):
    before = dvc_files(scratch)
    server = start()
    port = server.wait_until_serving()
    assert server.children
    server.process.kill()
    server.process.wait(timeout=10)
    _, alive = psutil.wait_procs(server.children, timeout=15)
    assert not alive, "the server follows its parent, even one killed with SIGKILL"
    assert not port_open(port)
    assert dvc_files(scratch) == before, "nothing to restore: the user's files were never written"
    match = CONFIG_DIR.search(server.output)
    assert match, server.output
    shutil.rmtree(match.group(1), ignore_errors=True)  # what a SIGKILL leaves: a file in the temp folder


def is_moto(process: psutil.Process) -> bool:
    try:
        return "moto_server" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def test_server_process_group_is_stopped_when_the_block_raises():
    with pytest.raises(RuntimeError, match="inside the block"), local_s3_server() as endpoint:
        port = int(endpoint.rsplit(":", 1)[1])
        children = psutil.Process().children(recursive=True)
        server = [c for c in children if is_moto(c)]
        assert server and os.getpgid(server[0].pid) == server[0].pid != os.getpgid(0), "its own group"
        raise RuntimeError("inside the block")
    assert not port_open(port)
    assert not [c for c in server if c.is_running()]
