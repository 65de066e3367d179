"""When frames are captured: bursts of near-identical frames, long gaps between bursts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

STEM_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"
STEM_INFIX = "obstacles_classification"


@dataclass(frozen=True)
class Burst:
    """Frames captured seconds apart; `first_frame` is the site-wide index of the first one."""

    index: int
    first_frame: int
    times: tuple[datetime, ...]


def frame_stem(camera_id: int, time: datetime) -> str:
    """The field's file stem, e.g. 1116_obstacles_classification_2022-09-07T21-06-42."""
    return f"{camera_id}_{STEM_INFIX}_{time.strftime(STEM_TIME_FORMAT)}"


def plan_bursts(rng: np.random.Generator, n_frames: int, start: datetime, bursts) -> list[Burst]:
    """Capture times for n_frames, strictly increasing at one-second resolution (unique stems)."""
    if bursts.interval_s[0] < 1 or bursts.gap_min[0] * 60 < 1:
        raise ValueError("stems have one-second resolution: bursts.interval_s and gap_min must be >= 1 s")
    if bursts.frames[0] < 1:
        raise ValueError("bursts.frames must be >= 1")
    plan: list[Burst] = []
    time = start
    first = 0
    while first < n_frames:
        length = min(int(rng.integers(bursts.frames[0], bursts.frames[1] + 1)), n_frames - first)
        steps = rng.integers(bursts.interval_s[0], bursts.interval_s[1] + 1, size=length - 1)
        times = [time]
        for step in steps:
            times.append(times[-1] + timedelta(seconds=int(step)))
        plan.append(Burst(index=len(plan), first_frame=first, times=tuple(times)))
        first += length
        gap_s = max(1, round(60 * rng.uniform(bursts.gap_min[0], bursts.gap_min[1])))
        time = times[-1] + timedelta(seconds=gap_s)
    return plan
