"""Running DVC from the tools: always this environment's DVC (`python -m dvc`), whatever PATH says,
so a tool started from the venv never picks up another installation's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DVC = (sys.executable, "-m", "dvc")


def dvc_add(root: Path, target: str = "data") -> None:
    """`dvc add <target>` in the project at root, so its new contents are versioned."""
    subprocess.run([*DVC, "add", target], cwd=root, check=True)
