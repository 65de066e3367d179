"""A simulated site recorder: what a site uploads (DESIGN 2) plus the label file a reviewer keeps.

Lets the whole pipeline be demoed and tested on data the project makes itself. Same arguments,
same bytes; the worker count does not change the output.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from obstacles.infra.parallel import resolve_workers
from obstacles.io.outputs import write_bytes_atomic
from obstacles.lineage.names import SKIP
from obstacles.simulation.rendering import Frame, SiteJob, Stream, render_burst, site_rng
from obstacles.simulation.reviewer import review
from obstacles.simulation.schedule import Burst, plan_bursts

LABEL_COLUMNS = ("image", "label", "opposite_label")
SITE_NAME = re.compile(r"^\w+_\d{6}_\d+$")  # <site>_<yyyymm>_<seq>


@dataclass(frozen=True)
class SiteSummary:
    """Counts of one generated site, printed as one line per site."""

    site: str
    frames: int
    bursts: int
    obstacle: int
    no_obstacle: int
    reversals: int
    skips: int
    seconds: float

    def line(self) -> str:
        per_frame = 1000 * self.seconds / max(self.frames, 1)
        return (
            f"{self.site}: {self.frames} frames in {self.bursts} bursts, {self.obstacle} obstacle / "
            f"{self.no_obstacle} no_obstacle, {self.reversals} reversals, {self.skips} skips "
            f"({self.seconds:.1f} s, {per_frame:.1f} ms/frame)"
        )


def _namespace(value):
    """Plain attribute access over a resolved config (fast in hot loops, picklable for workers)."""
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, SimpleNamespace):
        return value
    if isinstance(value, Mapping):
        return SimpleNamespace(**{str(k): _namespace(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return [_namespace(v) for v in value]
    return value


_WORKER_JOB: SiteJob | None = None


def _init_worker(job: SiteJob) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job
    cv2.setNumThreads(1)  # parallelism comes from processes; cv2 threads would only contend


def _render_in_worker(burst: Burst) -> list[Frame]:
    return render_burst(_WORKER_JOB, burst)


@contextmanager
def _burst_renderer(job: SiteJob, workers: int):
    """A map over bursts, in plan order: in this process, or in a pool of spawned ones.

    Spawned, not forked: forking after cv2 has started its threads can deadlock. A pool that
    cannot start (e.g. a parent run from stdin) fails with BrokenProcessPool instead of hanging.
    """
    if workers <= 1:
        yield lambda plan: (render_burst(job, burst) for burst in plan)
        return
    chunk = max(1, len(job.plan) // (4 * workers))  # a few chunks per worker balance the load
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job,)) as pool:
        yield lambda plan: pool.map(_render_in_worker, plan, chunksize=chunk)


def _render_all(job: SiteJob, workers: int) -> list[Frame]:
    frames: list[Frame] = []
    with tqdm(total=job.spec.n_frames, desc=job.site, unit="frame", disable=None) as bar:
        with _burst_renderer(job, workers) as render:
            for burst_frames in render(job.plan):
                frames += burst_frames
                bar.update(len(burst_frames))
    return frames


def _check_target(job: SiteJob, overwrite: bool) -> None:
    """Refuse to write over a site unless asked; even then, refuse to leave a mix of two runs."""
    site_dir = job.images_dir.parent
    existing = [p for p in site_dir.rglob("*") if p.is_file()] if site_dir.is_dir() else []
    if not overwrite:
        if existing:
            raise FileExistsError(
                f"{site_dir} already holds {len(existing)} files; set overwrite=true to regenerate site {job.site}"
            )
        if job.labels_path.exists():
            raise FileExistsError(f"{job.labels_path} already exists; set overwrite=true to regenerate site {job.site}")
        return
    expected = {job.images_dir / f"{s}.jpg" for s in job.stems()} | {job.json_dir / f"{s}.json" for s in job.stems()}
    stale = sorted(p for p in existing if p not in expected)
    if stale:
        raise FileExistsError(
            f"{site_dir} holds {len(stale)} files this run would not rewrite (e.g. {stale[0].name}); "
            "the simulator never deletes: remove them yourself or use another root"
        )


def prepare_site(
    recordings_dir: Path, labels_dir: Path, site: str, spec, common, *, seed: int, overwrite: bool = False
) -> SiteJob:
    """Validate one site's config, plan its capture times and check its output folders."""
    if not SITE_NAME.match(site):
        raise ValueError(f"site {site!r} is not named <site>_<yyyymm>_<seq>, e.g. plant_202209_01")
    spec, common = _namespace(spec), _namespace(common)
    if spec.style not in vars(common.styles):
        raise ValueError(f"site {site}: unknown style {spec.style!r}; known: {sorted(vars(common.styles))}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    schedule_rng = site_rng(seed, site, Stream.SCHEDULE)
    plan = plan_bursts(schedule_rng, int(spec.n_frames), datetime.fromisoformat(str(spec.start)), common.bursts)
    site_dir = Path(recordings_dir) / site
    job = SiteJob(
        site=site,
        spec=spec,
        common=common,
        seed=int(seed),
        images_dir=site_dir / "images",
        json_dir=site_dir / "json",
        labels_path=Path(labels_dir) / f"{site}.csv",
        plan=tuple(plan),
    )
    _check_target(job, overwrite)
    return job


def _write_labels(job: SiteJob, frames: list[Frame]) -> tuple[int, int]:
    """The reviewer's label file, written last: a site without one was interrupted. (reversals, skips)."""
    truth = np.array([f.is_obstacle for f in frames], dtype=bool)
    labels, opposite = review(job.rng(Stream.REVIEW), truth, job.common.review)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(LABEL_COLUMNS)
    writer.writerows(zip((f"{f.stem}.jpg" for f in frames), labels, opposite))
    job.labels_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(job.labels_path, text.getvalue().encode())
    return sum(bool(o) for o in opposite), labels.count(SKIP)


def run_site(job: SiteJob, workers: int = 1) -> SiteSummary:
    """Render every burst of a prepared site, then its label file."""
    started = time.perf_counter()
    job.images_dir.mkdir(parents=True, exist_ok=True)
    job.json_dir.mkdir(parents=True, exist_ok=True)
    workers = resolve_workers(workers)
    frames = _render_all(job, min(workers, len(job.plan)))
    reversals, skips = _write_labels(job, frames)
    obstacle = sum(f.is_obstacle for f in frames)
    return SiteSummary(
        site=job.site,
        frames=len(frames),
        bursts=len(job.plan),
        obstacle=obstacle,
        no_obstacle=len(frames) - obstacle,
        reversals=reversals,
        skips=skips,
        seconds=time.perf_counter() - started,
    )


def simulate_site(
    recordings_dir: Path,
    labels_dir: Path,
    site: str,
    spec,
    common,
    *,
    seed: int,
    overwrite: bool = False,
    workers: int = 1,
) -> SiteSummary:
    """One site: `spec` and `common` as in conf/simulate.yaml (mappings or DictConfig)."""
    return run_site(
        prepare_site(recordings_dir, labels_dir, site, spec, common, seed=seed, overwrite=overwrite), workers
    )


def simulate_sites(
    recordings_dir: Path,
    labels_dir: Path,
    sites: Mapping,
    common,
    *,
    seed: int,
    overwrite: bool = False,
    workers: int = 1,
    on_site: Callable[[SiteSummary], object] | None = None,
) -> list[SiteSummary]:
    """Every site of `sites` (name -> spec); all are checked before any file is written.

    `on_site` hears of each site as it finishes, so a long run reports progress.
    """
    common = _namespace(common)
    jobs = [
        prepare_site(recordings_dir, labels_dir, site, spec, common, seed=seed, overwrite=overwrite)
        for site, spec in vars(_namespace(sites)).items()
    ]
    summaries = []
    for job in jobs:
        summaries.append(run_site(job, workers))
        if on_site is not None:
            on_site(summaries[-1])
    return summaries
