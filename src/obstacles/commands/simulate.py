"""`python -m obstacles.commands.simulate`: recordings and review labels from a simulated site recorder.

Writes what a site's recorder uploads (triplet JPEGs and score JSONs, DESIGN 2) plus the label
file a reviewer would keep in git, so the whole pipeline can be demoed and tested on data the
project makes itself. Same config, same bytes; the worker count does not change the output.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import re
import time
import zlib
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from obstacles.config import entry_point
from obstacles.io.images import encode_jpeg
from obstacles.io.outputs import write_bytes_atomic
from obstacles.io.parallel import resolve_workers
from obstacles.simulation.camera import capture, change_mask, draw_lighting, draw_shadow
from obstacles.simulation.obstacles import draw_obstacle
from obstacles.simulation.review import SKIP, review
from obstacles.simulation.scene import render_scene
from obstacles.simulation.schedule import Burst, frame_stem, plan_bursts
from obstacles.simulation.scores import deployed_score

SCORE_KEY = "dense"  # the recorder's JSON: {"dense": [score]}
LABEL_COLUMNS = ("image", "label", "opposite_label")
SITE_NAME = re.compile(r"^\w+_\d{6}_\d+$")  # <site>_<yyyymm>_<seq>


class Stream(IntEnum):
    """Independent random streams, so changing one knob does not reshuffle unrelated draws."""

    SCHEDULE = 0
    BURST = 1
    FRAME = 2
    REVIEW = 3


def site_rng(seed: int, site: str, stream: Stream, *keys: int) -> np.random.Generator:
    """A generator keyed by site name (not position), so adding a site leaves the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32(site.encode()), int(stream), *keys])


@dataclass(frozen=True)
class Frame:
    """What the review and the summary need to know about a written frame."""

    stem: str
    is_obstacle: bool
    score: float


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


@dataclass(frozen=True)
class SiteJob:
    """Everything needed to render any burst of one site, in any process."""

    site: str
    spec: SimpleNamespace
    common: SimpleNamespace
    seed: int
    images_dir: Path
    json_dir: Path
    labels_path: Path
    plan: tuple[Burst, ...]

    def rng(self, stream: Stream, *keys: int) -> np.random.Generator:
        return site_rng(self.seed, self.site, stream, *keys)

    def stems(self) -> list[str]:
        return [frame_stem(self.spec.camera_id, t) for burst in self.plan for t in burst.times]


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


@dataclass(frozen=True)
class BurstState:
    """What the frames of one burst share: scene, reference, obstacle, lighting, model error."""

    reference: np.ndarray  # uint8 panel
    lit: np.ndarray  # float32 canvas: the current scene under the current lighting, before the camera
    footprint: np.ndarray  # bool canvas: obstacle pixels
    signal: float  # how visible the obstacle is (0 without one)
    noise_sd: float
    error: float  # the deployed model's error on this scene
    is_obstacle: bool


def stage_burst(job: SiteJob, burst: Burst) -> BurstState:
    """Draw the burst-level situation once, so its frames differ only by camera, flicker and noise."""
    c = job.common
    panel, margin = c.panel_size, c.camera.max_shift_px
    size = panel + 2 * margin
    rng = job.rng(Stream.BURST, burst.index)
    scene = render_scene(rng, vars(c.styles)[job.spec.style], size)
    obstacle = (
        draw_obstacle(rng, scene, c.obstacle, panel, margin) if rng.random() < job.spec.obstacle_fraction else None
    )
    lighting = draw_lighting(rng, c.lighting, size)
    shadow = draw_shadow(rng, c.shadow, size, panel)
    noise_sd = rng.uniform(*c.camera.noise_sd)
    error = rng.normal(0, c.score.burst_noise_sd)
    reference = capture(
        scene * lighting.reference_gain + lighting.reference_offset,
        rng,
        shift=(0, 0),
        margin=margin,
        panel=panel,
        gain=1.0,
        noise_sd=noise_sd,
    )
    current = obstacle.over(scene) if obstacle else scene
    if shadow is not None:
        current = current * shadow
    if obstacle:
        window = (slice(margin, margin + panel), slice(margin, margin + panel))
        footprint, signal = obstacle.alpha[..., 0] > c.obstacle.footprint_alpha, obstacle.signal(scene, window)
    else:
        footprint, signal = np.zeros((size, size), dtype=bool), 0.0
    return BurstState(
        reference=reference,
        lit=(current * lighting.current_gain + lighting.current_offset).astype(np.float32, copy=False),
        footprint=footprint,
        signal=signal,
        noise_sd=noise_sd,
        error=error,
        is_obstacle=obstacle is not None,
    )


def capture_frame(job: SiteJob, state: BurstState, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """One triplet [reference | current | mask] and the deployed model's score for it."""
    c = job.common
    panel, margin = c.panel_size, c.camera.max_shift_px
    shaken = rng.random() < c.camera.shift_prob
    dy, dx = rng.integers(-margin, margin + 1, size=2) if shaken else (0, 0)
    flicker = 1.0 + rng.normal(0, c.lighting.flicker_sd)
    current = capture(state.lit, rng, shift=(dy, dx), margin=margin, panel=panel, gain=flicker, noise_sd=state.noise_sd)
    mask = change_mask(state.reference, current, job.spec.mask_threshold)
    footprint = state.footprint[margin + dy : margin + dy + panel, margin + dx : margin + dx + panel]
    distractor = float(((mask[..., 0] > 0) & ~footprint).mean())  # changed, but not by the obstacle
    score = deployed_score(state.signal, distractor, state.error + rng.normal(0, c.score.frame_noise_sd), c.score)
    return np.concatenate([state.reference, current, mask], axis=1), score


def render_burst(job: SiteJob, burst: Burst) -> list[Frame]:
    """Render and write one burst: frames a few seconds apart of one unchanged situation."""
    state = stage_burst(job, burst)
    frames = []
    for k, capture_time in enumerate(burst.times):
        triplet, score = capture_frame(job, state, job.rng(Stream.FRAME, burst.index, k))
        stem = frame_stem(job.spec.camera_id, capture_time)
        write_bytes_atomic(job.images_dir / f"{stem}.jpg", encode_jpeg(triplet, job.common.jpeg_quality))
        write_bytes_atomic(job.json_dir / f"{stem}.json", (json.dumps({SCORE_KEY: [score]}) + "\n").encode())
        frames.append(Frame(stem, state.is_obstacle, score))
    return frames


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
    """One site without Hydra: `spec` and `common` as in conf/simulate.yaml (mappings or DictConfig)."""
    return run_site(
        prepare_site(recordings_dir, labels_dir, site, spec, common, seed=seed, overwrite=overwrite), workers
    )


def simulate(cfg) -> list[SiteSummary]:
    """Every configured site; all sites are checked before any file is written."""
    cfg = _namespace(cfg)
    jobs = [
        prepare_site(
            cfg.paths.recordings_dir,
            cfg.paths.labels_dir,
            site,
            spec,
            cfg.common,
            seed=cfg.seed,
            overwrite=cfg.overwrite,
        )
        for site, spec in vars(cfg.sites).items()
    ]
    summaries = []
    for job in jobs:
        summaries.append(run_site(job, cfg.workers))
        print(summaries[-1].line(), flush=True)
    return summaries


main = entry_point("simulate", simulate)

if __name__ == "__main__":
    main()
