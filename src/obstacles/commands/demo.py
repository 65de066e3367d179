"""`make demo`: the whole job on simulated recordings, ending with what it made.

simulate (if absent) -> dvc add data -> dvc repro -> dvc push to a local S3 server -> summary
(`obstacles.demo_summary`). Runs in the project at OBSTACLES_ROOT (default: this checkout).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from obstacles.demo_summary import demo_summary
from obstacles.infra.config import CONF_DIR, PROJECT_ROOT
from obstacles.infra.dvc_cli import DVC, PIPELINES, clear_stale_rwlock
from obstacles.infra.local_s3 import local_remote, local_s3_server

ROOT = PROJECT_ROOT


def sh(*command: str, env: dict[str, str] | None = None) -> None:
    shown = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    print(f"\n$ {shown + ' ' if shown else ''}{' '.join(command)}", flush=True)
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, **env} if env else None)


def demo_sites() -> list[str]:
    return list(OmegaConf.load(Path(CONF_DIR) / "sites.yaml").sites)


def ensure_recordings() -> None:
    missing = [s for s in demo_sites() if not (ROOT / "data" / "recordings" / s / "images").is_dir()]
    if missing:
        # labels/ is in git (a fresh clone has them, recordings not): regenerate both; same bytes
        sh(sys.executable, "-m", "obstacles.commands.simulate", "overwrite=true")


def push_to_local_s3() -> None:
    log = ROOT / ".dvc" / "tmp" / "moto_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # a remote of its own (`-r local-s3`, defined outside the checkout): the default remote and
    # .dvc/config.local, real credentials included, stay as they are
    with local_s3_server(log_path=log) as endpoint, local_remote(ROOT, endpoint) as remote:
        print(f"\nlocal S3 server {endpoint} stands in for {remote.url} as DVC remote {remote.name!r}")
        sh(*DVC, "push", "-r", remote.name, env=remote.env)


def summary() -> str:
    """The demo summary of this project: its default dataset and registered sites."""
    name = OmegaConf.load(Path(CONF_DIR) / "dataset" / "default.yaml").name
    return demo_summary(ROOT, name, demo_sites())


def reproduce() -> None:
    stale = clear_stale_rwlock(ROOT)
    if stale:
        print(f"removed {stale.relative_to(ROOT)}: empty and held by no DVC process (left by an interrupted run)")
    for pipeline in PIPELINES:
        sh(*DVC, "repro", pipeline)


def main() -> None:
    ensure_recordings()
    sh(*DVC, "add", "data")
    reproduce()
    push_to_local_s3()
    print(summary())


if __name__ == "__main__":
    main()
