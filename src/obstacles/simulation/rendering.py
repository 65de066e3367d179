"""One burst of a simulated site: its situation drawn once, then each frame captured and written.

A burst needs only its `SiteJob` and its `Burst`, so any process can render it and get the same
bytes (DESIGN 2: triplet JPEG plus `{"dense": [score]}` JSON per frame).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from obstacles.io.images import encode_jpeg
from obstacles.io.outputs import write_bytes_atomic
from obstacles.simulation.camera import capture, change_mask, draw_lighting, draw_shadow
from obstacles.simulation.obstacles import draw_obstacle
from obstacles.simulation.scene import render_scene
from obstacles.simulation.schedule import Burst, frame_stem
from obstacles.simulation.scores import deployed_score

SCORE_KEY = "dense"  # the recorder's JSON: {"dense": [score]}


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
