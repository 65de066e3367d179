"""Waiting out a slow disk before timing: ext4 skips inodes freed in the last 60 s (360 s while
their inode-table block is dirty), so right after a mass delete creating a file costs 10x more
(measured: 0.04 ms -> 0.4 ms). A bench that deletes its scratch files records when (`marker`) and
waits before it times anything again."""

from __future__ import annotations

import time
from pathlib import Path

SETTLE_SECONDS = 360


def mark_cleanup(marker: Path) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def wait_after_cleanup(marker: Path) -> None:
    if marker.exists():
        remaining = SETTLE_SECONDS - (time.time() - marker.stat().st_mtime)
        if remaining > 0:
            print(
                f"waiting {remaining:.0f} s: scratch files were deleted {SETTLE_SECONDS - remaining:.0f} s ago, "
                "and file creation is slow for minutes after a mass delete",
                flush=True,
            )
            time.sleep(remaining)
