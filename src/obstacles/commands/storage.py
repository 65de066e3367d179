"""A local S3 server as the DVC remote: `python -m obstacles.commands.storage` serves until SIGINT
(Ctrl-C) or SIGTERM.

Thin entry point over `obstacles.infra.local_s3`: a moto server on loopback as DVC remote `local-s3`,
defined in a throw-away config outside the checkout that only commands given
`DVC_SYSTEM_CONFIG_DIR=<that dir>` see; the user's `.dvc/config` and `.dvc/config.local` are never
written. The project is `OBSTACLES_ROOT` (default: the current folder).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from obstacles.infra.local_s3 import CONFIG_DIR_ENV, STOP_SIGNALS, local_remote, local_s3_server


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, frame) -> None:
    for s in STOP_SIGNALS:  # the first one stops; later ones must not interrupt the clean-up
        signal.signal(s, signal.SIG_IGN)
    raise _Stop(signum)


def main() -> None:
    # Explicit handlers: a background job of a non-interactive shell starts with SIGINT ignored,
    # and Python's default for SIGTERM would skip every clean-up.
    for s in STOP_SIGNALS:
        signal.signal(s, _stop)
    root = Path(os.environ.get("OBSTACLES_ROOT", "."))
    try:
        with local_s3_server() as endpoint, local_remote(root, endpoint) as remote:
            env = f"{CONFIG_DIR_ENV}={remote.config_dir}"
            print(
                f"local S3 server at {endpoint}, as DVC remote {remote.name!r} for {remote.url}\n"
                f"(your own remotes and .dvc/config.local are left as they are). While this runs:\n"
                f"  {env} dvc push -r {remote.name}\n"
                f"  {env} dvc pull -r {remote.name}\n"
                "Ctrl-C or SIGTERM stops it (its contents are in memory).",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except _Stop as stop:
        print(f"stopped ({stop}); the local S3 server is shut down.", flush=True)


if __name__ == "__main__":
    main()
