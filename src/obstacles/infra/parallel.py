"""Order-preserving parallel map with a progress bar and bounded memory."""

from __future__ import annotations

import os
from multiprocessing import get_context
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from tqdm import tqdm

# Items per task. Each task costs the pool a pickle, a pipe round trip and a wake-up; with 64
# light images per task instead of 16, no_mask_train's 4,525 images took 2.2 s instead of 2.3-2.5 s
# on 2 cores, and still split into ~70 tasks, plenty to balance the workers.
CHUNKSIZE = 64

T = TypeVar("T")
R = TypeVar("R")


def resolve_workers(workers: int) -> int:
    """0 means every core this process may use."""
    if workers and workers > 0:
        return int(workers)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parallel_map(
    fn: Callable[[T], R],
    items: Sequence[T] | Iterable[T],
    *,
    workers: int = 0,
    desc: str = "",
    chunksize: int = CHUNKSIZE,
) -> Iterator[R]:
    """Results in input order; with one worker (or few items) runs in-process."""
    items = list(items)
    workers = min(resolve_workers(workers), max(1, len(items) // chunksize))
    progress = dict(total=len(items), desc=desc, unit="img", disable=not desc or len(items) < 200, mininterval=1.0)
    if workers <= 1:
        yield from tqdm(map(fn, items), **progress)
        return
    with get_context("fork").Pool(workers) as pool:
        yield from tqdm(pool.imap(fn, items, chunksize=chunksize), **progress)
