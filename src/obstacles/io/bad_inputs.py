"""Bad inputs are either skipped and reported, or stop the stage, as config says."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from obstacles.io.outputs import write_csv
from obstacles.lineage.names import BAD_INPUTS_NAME

POLICIES = ("skip", "fail")


class BadInputError(RuntimeError):
    """A bad input under `on_bad_input: fail`, or one that is never skippable."""


@dataclass
class BadInputs:
    policy: str
    root: Path = Path(".")  # files are reported relative to it, so reports do not depend on where the project lives
    items: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"on_bad_input must be one of {POLICIES}, got {self.policy!r}")

    def add(self, file: str | Path, reason: str) -> None:
        name = Path(os.path.relpath(Path(file).resolve(), self.root.resolve())).as_posix()
        if self.policy == "fail":
            raise BadInputError(f"bad input {name}: {reason}")
        self.items.append((name, reason))

    def write(self, folder: Path) -> Path:
        return write_csv(folder / BAD_INPUTS_NAME, ("file", "reason"), sorted(self.items))

    def summary(self, stage: str, n_good: int) -> str:
        line = f"[{stage}] {n_good} good, {len(self.items)} bad input(s) skipped"
        return line + (f" (listed in {BAD_INPUTS_NAME})" if self.items else "")
