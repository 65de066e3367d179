"""The DVC remote: an S3 bucket. Locally (demo, tests, benchmarks) a moto S3 server on loopback.

`python -m obstacles.storage` starts one, points this checkout's remote at it (in
.dvc/config.local, never committed) and serves until interrupted.
"""

from __future__ import annotations

import configparser
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

LOOPBACK = "127.0.0.1"
DVC = (sys.executable, "-m", "dvc")  # this environment's DVC, whatever PATH says
# moto accepts any key; these are placeholders for the local server only, written to config.local.
LOCAL_CREDENTIALS = {"access_key_id": "local-testing", "secret_access_key": "local-testing"}
STARTUP_TIMEOUT_S = 60.0


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


@contextmanager
def local_s3_server(log_path: Path | None = None) -> Iterator[str]:
    """A moto S3 server on a free loopback port for the duration of the block; yields its URL."""
    port = _free_port()
    url = f"http://{LOOPBACK}:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen([_moto_server(), "-H", LOOPBACK, "-p", str(port)], stdout=log, stderr=log)
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
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
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


def use_local_remote(root: Path, endpoint: str) -> str:
    """Point the checkout's default remote at a local server (config.local only); create its bucket."""
    name, url = remote_url(root)
    create_bucket(endpoint, urlparse(url).netloc)
    settings = {"endpointurl": endpoint, **LOCAL_CREDENTIALS}
    for key, value in settings.items():
        subprocess.run([*DVC, "remote", "modify", "--local", name, key, value], cwd=root, check=True)
    return url


def main() -> None:
    root = Path(os.environ.get("OBSTACLES_ROOT", "."))
    with local_s3_server() as endpoint:
        url = use_local_remote(root, endpoint)
        print(f"local S3 server at {endpoint}; DVC remote {url} now points there (.dvc/config.local).")
        print("dvc push / dvc pull work while this runs; Ctrl-C stops it (its contents are in memory).")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
