"""The DVC remote's local stand-in: a moto S3 server on loopback, and a DVC remote on it.

For the demo, tests and benchmarks (`python -m obstacles.commands.storage` serves one until
stopped). The user's remote settings are never touched: the server is a separate DVC remote,
`local-s3` (same bucket url as the default remote, the loopback endpoint, placeholder keys),
defined in a throw-away config file outside the repository that only commands given
`DVC_SYSTEM_CONFIG_DIR=<that dir>` see; they target it with `dvc push -r local-s3` / `dvc pull -r
local-s3`. `.dvc/config` and `.dvc/config.local` are never written, so they stay byte-for-byte as
they were on every exit path, SIGKILL included (where a config.local entry removed "on exit" would
stay behind); a killed run leaves at most that small file under the system temp folder, never
anything in the checkout.

The server runs in its own session (process group) and is stopped as a group on every exit path;
on Linux it also gets SIGTERM from the kernel if the process that started it dies (SIGKILL too).
"""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

LOOPBACK = "127.0.0.1"
LOCAL_REMOTE = "local-s3"  # the DVC remote name of the local server: `dvc push -r local-s3`
CONFIG_DIR_ENV = "DVC_SYSTEM_CONFIG_DIR"  # DVC reads its system-level config from $CONFIG_DIR_ENV/config
# moto accepts any key; placeholders for the local server only, written to the throw-away config.
LOCAL_CREDENTIALS = {"access_key_id": "local-testing", "secret_access_key": "local-testing"}
STARTUP_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def remote_url(root: Path) -> tuple[str, str]:
    """(remote name, s3:// url) of the default DVC remote in .dvc/config."""
    config = configparser.ConfigParser()
    config.read(root / ".dvc" / "config")
    name = config.get("core", "remote")
    section = next(s for s in (f"'remote \"{name}\"'", f'remote "{name}"') if config.has_section(s))
    return name, config.get(section, "url")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _moto_server() -> str:
    candidate = Path(sys.executable).with_name("moto_server")
    return str(candidate) if candidate.exists() else "moto_server"


def _die_with_parent():
    """A preexec_fn: on Linux, SIGTERM to the child when the thread that started it dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded here, before the fork
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the block is done (then go to whatever handled them before)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(pending):
            if previous[signum] not in (signal.SIG_IGN, None):
                os.kill(os.getpid(), signum)


def _stop_group(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the server's process group, SIGKILL whatever is left after grace_s, reap the leader."""
    if process.returncode is not None:  # already reaped: its pid, the group's id, may be reused
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:  # WNOWAIT: leave the leader a zombie, so the group id stays ours until the sweep below
            if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
        except ChildProcessError:
            break
        time.sleep(0.05)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # a stuck leader, or anything it started
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


@contextmanager
def local_s3_server(log_path: Path | None = None) -> Iterator[str]:
    """A moto S3 server on a free loopback port for the duration of the block; yields its URL.

    The server gets its own session, so a terminal's Ctrl-C reaches only this process, which then
    stops the server's whole process group here, on every way out of the block (SIGINT/SIGTERM
    arriving meanwhile wait until it is done). On Linux the kernel SIGTERMs the server if the
    thread that started it dies first (SIGKILL included): call this from the main thread.
    """
    port = _free_port()
    url = f"http://{LOOPBACK}:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            [_moto_server(), "-H", LOOPBACK, "-p", str(port)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )  # noqa: PLW1509 - one prctl call
    except BaseException:
        if log_path:
            log.close()
        raise
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"local S3 server did not start on {url} (exit {process.poll()})") from None
                time.sleep(0.2)
        yield url
    finally:
        with _signals_deferred():
            _stop_group(process)
            if log_path:
                log.close()


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=LOCAL_CREDENTIALS["access_key_id"],
        aws_secret_access_key=LOCAL_CREDENTIALS["secret_access_key"],
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)


@dataclass(frozen=True)
class LocalRemote:
    """A DVC remote on the local server: `dvc push -r <name>` run with `env` added."""

    name: str
    url: str
    endpoint: str
    config_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {CONFIG_DIR_ENV: str(self.config_dir)}


def _section(name: str) -> str:
    return f'remote "{name}"'


def _user_config_files(root: Path) -> list[Path]:
    from dvc.dirs import global_config_dir

    return [root / ".dvc" / "config", root / ".dvc" / "config.local", Path(global_config_dir()) / "config"]


@contextmanager
def local_remote(root: Path, endpoint: str, name: str = LOCAL_REMOTE) -> Iterator[LocalRemote]:
    """A DVC remote `name` on the server at endpoint, with the default remote's bucket url.

    Defined in a system-level config file written to a fresh temporary folder (a copy of the real
    system config, if there is one, plus this remote), seen only by commands run with `.env`, and
    removed when the block ends. Nothing in the checkout, nor the user's global config, is written.
    """
    from configobj import ConfigObj
    from dvc.dirs import system_config_dir

    _, url = remote_url(root)
    for path in _user_config_files(root):
        if path.is_file() and _section(name) in ConfigObj(str(path)).sections:
            raise RuntimeError(f"{path} already defines a DVC remote named {name!r}; pick another name")
    create_bucket(endpoint, urlparse(url).netloc)
    folder = Path(tempfile.mkdtemp(prefix="obstacles-local-s3-"))
    try:
        system = Path(system_config_dir()) / "config"
        config = ConfigObj(str(system)) if system.is_file() else ConfigObj()
        config.filename = str(folder / "config")
        config[_section(name)] = {"url": url, "endpointurl": endpoint, **LOCAL_CREDENTIALS}
        config.write()
        yield LocalRemote(name=name, url=url, endpoint=endpoint, config_dir=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
