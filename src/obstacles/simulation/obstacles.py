"""Obstacles of varied kind, size, contrast and place, as an alpha matte over the scene.

Size and contrast are drawn log-uniformly so that most obstacles are plain to see while a tail
is small or faint: the hard obstacle cases the sample weights are meant to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from obstacles.simulation.scene import AA, _bgr, _pick


@dataclass(frozen=True)
class Obstacle:
    alpha: np.ndarray  # float32 (H, W, 1) in [0, 1]
    colour: np.ndarray  # float32 (H, W, 3): what the obstacle looks like where alpha > 0

    def over(self, scene: np.ndarray) -> np.ndarray:
        """The scene with the obstacle in it."""
        return scene + self.alpha * (self.colour - scene)

    def signal(self, scene: np.ndarray, window: tuple[slice, slice]) -> float:
        """How much the obstacle changes the visible panel: mean of alpha * contrast, in [0, 1]."""
        contrast = np.abs(self.colour - scene).max(axis=2, keepdims=True)
        return float((self.alpha * contrast)[window].mean() / 255.0)


def _log_uniform(rng: np.random.Generator, bounds) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def _paint(colour, alpha, stroke, rgb):
    """Draw one part on both layers: its colour, and full opacity in the matte."""
    stroke(colour, _bgr(rgb))
    stroke(alpha, 255)


def _box(colour, alpha, rng, cx, cy, side, base):
    """A crate with a lit top and a shaded side, so it reads as 3-D."""
    w = int(side * rng.uniform(0.6, 1.0))
    h = int(side * rng.uniform(0.5, 1.0))
    d = max(int(side * rng.uniform(0.1, 0.3)), 1)
    x0, y0 = cx - w // 2, cy - h // 2
    front = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]], np.int32)
    top = np.array([[x0, y0], [x0 + d, y0 - d], [x0 + w + d, y0 - d], [x0 + w, y0]], np.int32)
    right = np.array([[x0 + w, y0], [x0 + w + d, y0 - d], [x0 + w + d, y0 + h - d], [x0 + w, y0 + h]], np.int32)
    for poly, shade in ((front, 1.0), (top, 1.25), (right, 0.75)):
        _paint(colour, alpha, lambda img, c, poly=poly: cv2.fillConvexPoly(img, poly, c, AA), base * shade)


def _ellipse(colour, alpha, rng, cx, cy, side, base):
    axes = (max(int(side * rng.uniform(0.25, 0.5)), 1), max(int(side * rng.uniform(0.15, 0.5)), 1))
    angle = float(rng.uniform(0, 180))
    _paint(colour, alpha, lambda img, c: cv2.ellipse(img, (cx, cy), axes, angle, 0, 360, c, -1, AA), base)


def _person(colour, alpha, rng, cx, cy, side, base):
    """Head, torso, arms and legs: a standing figure `side` pixels tall, clothes in two shades."""
    top = cy - side // 2

    def at(dx, dy):
        return (cx + int(dx * side), top + int(dy * side))

    def px(fraction):
        return max(int(fraction * side), 1)

    head, legs, thick = base * rng.uniform(0.8, 1.3), base * rng.uniform(0.4, 0.8), px(0.07)
    _paint(colour, alpha, lambda img, c: cv2.circle(img, at(0, 0.1), px(0.09), c, -1, AA), head)
    _paint(colour, alpha, lambda img, c: cv2.ellipse(img, at(0, 0.38), (px(0.16), px(0.2)), 0, 0, 360, c, -1, AA), base)
    for s in (-1, 1):
        _paint(
            colour, alpha, lambda img, c, s=s: cv2.line(img, at(0.06 * s, 0.55), at(0.1 * s, 1.0), c, thick, AA), legs
        )
        _paint(
            colour, alpha, lambda img, c, s=s: cv2.line(img, at(0.12 * s, 0.25), at(0.22 * s, 0.55), c, thick, AA), base
        )


def _textured(colour, alpha, rng, cx, cy, side, base):
    """A stack of goods or a wrapped pallet: a crate with stripes across it."""
    _box(colour, alpha, rng, cx, cy, side, base)
    size = colour.shape[0]
    period = rng.uniform(3, 12)
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    stripes = np.sin(2 * np.pi * (np.cos(angle) * xs + np.sin(angle) * ys) / period)
    colour += (0.25 * float(base.mean()) * stripes)[..., None]


SHAPES = {"box": _box, "ellipse": _ellipse, "person": _person, "textured": _textured}


def draw_obstacle(rng: np.random.Generator, scene: np.ndarray, cfg, panel: int, margin: int) -> Obstacle:
    """One obstacle placed inside the visible panel of `scene` (a canvas with `margin` all round)."""
    size = scene.shape[0]
    side = max(int(_log_uniform(rng, cfg.size) * panel), cfg.min_side_px)
    cx = margin + int(rng.integers(0, panel))
    cy = margin + int(rng.integers(0, panel))
    half = side // 2 + 1
    local = scene[max(cy - half, 0) : cy + half, max(cx - half, 0) : cx + half].reshape(-1, 3).mean(axis=0)
    contrast = _log_uniform(rng, cfg.contrast)
    direction = np.where(rng.random() < cfg.darker_prob, -1.0, 1.0) + rng.normal(0, cfg.chroma, 3)
    base = np.clip(local + contrast * direction, 0, 255)
    if np.abs(base - local).max() < contrast / 2:  # clipped at black or white: go the other way
        base = np.clip(local - contrast * direction, 0, 255)

    colour = np.empty((size, size, 3), dtype=np.float32)
    colour[:] = base  # matte fringes blend towards the obstacle's colour, not black
    alpha = np.zeros((size, size), dtype=np.uint8)
    SHAPES[_pick(rng, vars(cfg.kinds))](colour, alpha, rng, cx, cy, side, base)
    colour += cfg.grain * rng.standard_normal((size, size, 1), dtype=np.float32)
    soft = cv2.GaussianBlur(alpha, (3, 3), 0).astype(np.float32)[..., None] / 255.0
    return Obstacle(alpha=soft, colour=np.clip(colour, 0, 255))
