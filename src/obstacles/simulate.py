"""`python -m obstacles.simulate`: recordings and review labels from a simulated site recorder.

Writes what a site's recorder uploads (triplet JPEGs and score JSONs, DESIGN 2) plus the label
file a reviewer would keep in git, so the whole pipeline can be demoed and tested on data the
project makes itself. Same config, same bytes; the worker count does not change the output.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from types import SimpleNamespace

import cv2
import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from obstacles.io.images import encode_jpeg
from obstacles.simulation.camera import capture, change_mask, draw_lighting, draw_shadow
from obstacles.simulation.obstacles import draw_obstacle
from obstacles.simulation.review import SKIP, review
from obstacles.simulation.scene import render_scene
from obstacles.simulation.schedule import Burst, frame_stem, plan_bursts
from obstacles.simulation.scores import deployed_score

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
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
    stem: str
    is_obstacle: bool
    score: float


@dataclass(frozen=True)
class SiteSummary:
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


def write_atomic(path: Path, data: bytes) -> None:
    """Write under a temporary name in the same folder, then rename: no half file under `path`."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def render_burst(job: SiteJob, burst: Burst) -> list[Frame]:
    """Render and write one burst: one scene, one reference, one obstacle state, several captures."""
    c = job.common
    panel, margin = c.panel_size, c.camera.max_shift_px
    size = panel + 2 * margin
    window = (slice(margin, margin + panel), slice(margin, margin + panel))
    rng = job.rng(Stream.BURST, burst.index)

    scene = render_scene(rng, vars(c.styles)[job.spec.style], size)
    obstacle = draw_obstacle(rng, scene, c.obstacle, panel, margin) if rng.random() < job.spec.obstacle_fraction else None
    lighting = draw_lighting(rng, c.lighting, size)
    shadow = draw_shadow(rng, c.shadow, size, panel)
    noise_sd = rng.uniform(*c.camera.noise_sd)
    burst_error = rng.normal(0, c.score.burst_noise_sd)

    reference = capture(
        scene * lighting.reference_gain + lighting.reference_offset,
        rng, shift=(0, 0), margin=margin, panel=panel, gain=1.0, noise_sd=noise_sd,
    )
    current_scene = obstacle.over(scene) if obstacle else scene
    if shadow is not None:
        current_scene = current_scene * shadow
    lit = current_scene * lighting.current_gain + lighting.current_offset
    signal = obstacle.signal(scene, window) if obstacle else 0.0
    footprint = obstacle.alpha[..., 0] > c.obstacle.footprint_alpha if obstacle else np.zeros((size, size), bool)

    frames = []
    for k, capture_time in enumerate(burst.times):
        frame_rng = job.rng(Stream.FRAME, burst.index, k)
        shaken = frame_rng.random() < c.camera.shift_prob
        shift = frame_rng.integers(-margin, margin + 1, size=2) if shaken else np.zeros(2, dtype=int)
        flicker = 1.0 + frame_rng.normal(0, c.lighting.flicker_sd)
        current = capture(lit, frame_rng, shift=shift, margin=margin, panel=panel, gain=flicker, noise_sd=noise_sd)
        mask = change_mask(reference, current, c.mask_threshold)
        seen_footprint = footprint[margin + shift[0] : margin + shift[0] + panel, margin + shift[1] : margin + shift[1] + panel]
        distractor = float(((mask[..., 0] > 0) & ~seen_footprint).mean())
        score = deployed_score(signal, distractor, burst_error + frame_rng.normal(0, c.score.frame_noise_sd), c.score)
        stem = frame_stem(job.spec.camera_id, capture_time)
        triplet = np.concatenate([reference, current, mask], axis=1)
        write_atomic(job.images_dir / f"{stem}.jpg", encode_jpeg(triplet, c.jpeg_quality))
        write_atomic(job.json_dir / f"{stem}.json", (json.dumps({SCORE_KEY: [score]}) + "\n").encode())
        frames.append(Frame(stem, obstacle is not None, score))
    return frames


_WORKER_JOB: SiteJob | None = None


def _init_worker(job: SiteJob) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job
    cv2.setNumThreads(1)  # parallelism comes from processes; cv2 threads would only contend


def _render_in_worker(burst: Burst) -> list[Frame]:
    return render_burst(_WORKER_JOB, burst)


def _render_all(job: SiteJob, workers: int) -> list[Frame]:
    """All bursts in plan order; with workers > 1 in spawned processes (same bytes either way)."""
    bar = tqdm(total=job.spec.n_frames, desc=job.site, unit="frame", disable=None)
    frames: list[Frame] = []
    with bar:
        if workers <= 1:
            results = (render_burst(job, burst) for burst in job.plan)
            for burst_frames in results:
                frames += burst_frames
                bar.update(len(burst_frames))
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
                for burst_frames in pool.imap(_render_in_worker, job.plan, chunksize=8):
                    frames += burst_frames
                    bar.update(len(burst_frames))
    return frames


def _check_target(job: SiteJob, overwrite: bool) -> None:
    """Refuse to write over a site unless asked; even then, refuse to leave a mix of two runs."""
    site_dir = job.images_dir.parent
    existing = [p for p in site_dir.rglob("*") if p.is_file()] if site_dir.is_dir() else []
    if not overwrite:
        if existing:
            raise FileExistsError(f"{site_dir} already holds {len(existing)} files; set overwrite=true to regenerate site {job.site}")
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


def prepare_site(recordings_dir: Path, labels_dir: Path, site: str, spec, common, *, seed: int, overwrite: bool = False) -> SiteJob:
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
    write_atomic(job.labels_path, text.getvalue().encode())
    return sum(bool(o) for o in opposite), labels.count(SKIP)


def run_site(job: SiteJob, workers: int = 1) -> SiteSummary:
    """Render every burst of a prepared site, then its label file."""
    started = time.perf_counter()
    job.images_dir.mkdir(parents=True, exist_ok=True)
    job.json_dir.mkdir(parents=True, exist_ok=True)
    workers = (os.cpu_count() or 1) if workers == 0 else workers
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
    recordings_dir: Path, labels_dir: Path, site: str, spec, common, *, seed: int, overwrite: bool = False, workers: int = 1
) -> SiteSummary:
    """One site without Hydra: `spec` and `common` as in conf/simulate.yaml (mappings or DictConfig)."""
    return run_site(prepare_site(recordings_dir, labels_dir, site, spec, common, seed=seed, overwrite=overwrite), workers)


def simulate(cfg) -> list[SiteSummary]:
    """Every configured site; all sites are checked before any file is written."""
    cfg = _namespace(cfg)
    jobs = [
        prepare_site(cfg.paths.recordings_dir, cfg.paths.labels_dir, site, spec, cfg.common, seed=cfg.seed, overwrite=cfg.overwrite)
        for site, spec in vars(cfg.sites).items()
    ]
    summaries = []
    for job in jobs:
        summaries.append(run_site(job, cfg.workers))
        print(summaries[-1].line(), flush=True)
    return summaries


def load_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """conf/simulate.yaml composed with Hydra overrides, for callers that do not go through the CLI."""
    with hydra.initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra.compose(config_name="simulate", overrides=list(overrides))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="simulate")
def main(cfg: DictConfig) -> None:
    simulate(cfg)


if __name__ == "__main__":
    main()
