"""What happens between the reference and the current frame besides obstacles.

Lighting changes, cast shadows, camera shifts and sensor noise: the no-obstacle changes that
light up the recorder's mask and fool a model, i.e. the hard no-obstacle cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from obstacles.weights.curve import diff_mask


@dataclass(frozen=True)
class Lighting:
    """Gain (scalar or per-pixel map) and offset for the reference and the current frame."""

    reference_gain: float
    reference_offset: float
    current_gain: np.ndarray  # float32, scalar or (H, W, 1): keeps the canvas float32
    current_offset: float
    strong: bool


def _ramp(rng: np.random.Generator, size: int) -> np.ndarray:
    """0 on one side of the image, 1 on the other, in a random direction: a lamp off to one side."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    ramp = float(np.cos(angle)) * xs + float(np.sin(angle)) * ys
    ramp -= ramp.min()
    return (ramp / ramp.max())[..., None]


def draw_lighting(rng: np.random.Generator, cfg, size: int) -> Lighting:
    """Everyday drift for every burst; for some bursts a strong change, global or from one side."""
    ref_gain, cur_gain = 1.0 + rng.normal(0, cfg.gain_sd, 2)
    ref_offset, cur_offset = rng.normal(0, cfg.offset_sd, 2)
    strong = bool(rng.random() < cfg.strong_prob)
    if strong:
        factor = (1.0 + rng.uniform(*cfg.strong_change)) ** rng.choice((-1.0, 1.0))
        if rng.random() < cfg.ramp_prob:
            cur_gain = cur_gain * (1.0 + (factor - 1.0) * _ramp(rng, size))
        else:
            cur_gain = cur_gain * factor
    return Lighting(
        float(ref_gain), float(ref_offset), np.asarray(cur_gain, dtype=np.float32), float(cur_offset), strong
    )


def draw_shadow(rng: np.random.Generator, cfg, size: int, panel: int) -> np.ndarray | None:
    """A soft-edged dark polygon (someone or something out of view), as a gain map; None if absent."""
    if rng.random() >= cfg.prob:
        return None
    radius = rng.uniform(*cfg.size) * panel / 2
    centre = rng.uniform(0, size, 2)
    n = int(rng.integers(cfg.vertices[0], cfg.vertices[1] + 1))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = radius * rng.uniform(0.5, 1.5, n)
    points = centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
    matte = np.zeros((size, size), dtype=np.float32)
    cv2.fillPoly(matte, [points.astype(np.int32)], 1.0)
    blur = 2 * int(cfg.blur_frac * panel) + 1
    matte = cv2.GaussianBlur(matte, (blur, blur), 0)
    return (1.0 - np.float32(rng.uniform(*cfg.depth)) * matte)[..., None]


def capture(lit: np.ndarray, rng: np.random.Generator, *, shift, margin: int, panel: int, gain: float, noise_sd: float):
    """The camera's uint8 panel: crop the lit canvas at the camera's shift, scale, add sensor noise."""
    y, x = margin + int(shift[0]), margin + int(shift[1])
    frame = lit[y : y + panel, x : x + panel] * np.float32(gain)
    noise = np.float32(noise_sd) * rng.standard_normal(frame.shape, dtype=np.float32)
    return cv2.add(frame, noise, dtype=cv2.CV_8U)  # rounds and saturates to [0, 255]


def change_mask(reference: np.ndarray, current: np.ndarray, threshold: float) -> np.ndarray:
    """The recorder's mask panel: white where any channel changed by more than the threshold."""
    mask = diff_mask(reference, current, threshold).astype(np.uint8) * 255
    return cv2.merge([mask, mask, mask])
