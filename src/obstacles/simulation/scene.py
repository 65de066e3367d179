"""The empty scene a fixed camera sees: wall, floor, fixtures, texture.

Structure (edges, lines, textured surfaces) matters: a camera shift or a lighting change must
light up edges in the change mask the way it does in the field, and a model must learn to look
past them.
"""

from __future__ import annotations

import cv2
import numpy as np

AA = cv2.LINE_AA


def _colour(rng: np.random.Generator, rgb_range) -> np.ndarray:
    """An RGB colour drawn channel-wise between the range's low and high corners."""
    low, high = np.asarray(rgb_range, dtype=np.float64)
    return rng.uniform(low, high)


def _bgr(colour: np.ndarray, factor: float = 1.0) -> tuple[float, ...]:
    """cv2 drawing wants a plain tuple; the canvas is RGB so channel order is kept."""
    return tuple(float(c) for c in np.clip(colour * factor, 0, 255))


def _pick(rng: np.random.Generator, weights: dict) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _machine(canvas, rng, x, y_base, w, h, colour):
    x0, y0 = x, y_base - h
    cv2.rectangle(canvas, (x0, y0), (x + w, y_base), _bgr(colour), -1, AA)
    cv2.rectangle(canvas, (x0, y0), (x + w, y_base), _bgr(colour, 0.55), 1, AA)
    px, py = x0 + w // 5, y0 + h // 5
    cv2.rectangle(canvas, (px, py), (px + w // 3, py + h // 4), _bgr(colour, 0.7), -1, AA)
    for k in range(int(rng.integers(1, 4))):
        centre = (px + (k + 1) * max(w // 10, 2), py + h // 3 + 4)
        cv2.circle(canvas, centre, max(w // 30, 1), _bgr(rng.uniform(120, 255, 3)), -1, AA)


def _shelf(canvas, rng, x, y_base, w, h, colour):
    y0 = y_base - h
    post = max(w // 14, 2)
    for px in (x, x + w - post):
        cv2.rectangle(canvas, (px, y0), (px + post, y_base), _bgr(colour, 0.8), -1, AA)
    levels = int(rng.integers(2, 5))
    for k in range(levels + 1):
        yb = y0 + k * h // levels
        cv2.rectangle(canvas, (x, yb), (x + w, yb + max(h // 40, 1)), _bgr(colour), -1, AA)
        if k == 0:
            continue
        bx = x + post
        while bx < x + w - post - 3:  # goods on the shelf below this beam
            bw = int(rng.integers(3, max(w // 4, 4)))
            bh = int(rng.integers(2, max(h // levels - 2, 3)))
            cv2.rectangle(canvas, (bx, yb - bh), (min(bx + bw, x + w - post), yb), _bgr(rng.uniform(60, 230, 3)), -1)
            bx += bw + int(rng.integers(1, 4))


def _desk(canvas, rng, x, y_base, w, h, colour):
    top = y_base - h
    slab = max(h // 8, 2)
    cv2.rectangle(canvas, (x, top), (x + w, top + slab), _bgr(colour), -1, AA)
    leg = max(w // 16, 2)
    for lx in (x + leg, x + w - 2 * leg):
        cv2.rectangle(canvas, (lx, top + slab), (lx + leg, y_base), _bgr(colour, 0.6), -1, AA)
    if rng.random() < 0.6:  # a monitor on the desk
        mw, mh = w // 3, h // 2
        mx = x + int(rng.integers(0, max(w - mw, 1)))
        cv2.rectangle(canvas, (mx, top - mh), (mx + mw, top - 2), _bgr(np.full(3, 35.0)), -1, AA)


def _window(canvas, rng, x, y_base, w, h, colour):
    y0 = y_base - h
    cv2.rectangle(canvas, (x, y0), (x + w, y_base), _bgr(np.full(3, 225.0) + rng.uniform(-15, 15, 3)), -1, AA)
    cv2.rectangle(canvas, (x, y0), (x + w, y_base), _bgr(colour, 0.7), 2, AA)
    cv2.line(canvas, (x + w // 2, y0), (x + w // 2, y_base), _bgr(colour, 0.7), 2, AA)
    cv2.line(canvas, (x, y0 + h // 2), (x + w, y0 + h // 2), _bgr(colour, 0.7), 2, AA)


FIXTURES = {"machine": _machine, "shelf": _shelf, "desk": _desk, "window": _window}


def _layout(canvas, rng, style, size, horizon):
    """Wall, floor with light falloff, baseboard and floor lines converging to a vanishing point."""
    wall, floor = _colour(rng, style.wall_rgb), _colour(rng, style.floor_rgb)
    canvas[:horizon] = wall
    canvas[horizon:] = floor
    cv2.line(canvas, (0, horizon), (size, horizon), _bgr(wall, 0.6), 2, AA)
    vx = int(rng.integers(0, size))
    line_colour = _colour(rng, style.floor_line_rgb)
    for _ in range(int(rng.integers(style.floor_lines[0], style.floor_lines[1] + 1))):
        bx = int(rng.integers(-size, 2 * size))
        cv2.line(canvas, (vx, horizon), (bx, size), _bgr(line_colour), int(rng.integers(1, 3)), AA)


def _fixtures(canvas, rng, style, size, horizon):
    """Fixtures drawn far to near (by base line) so nearer ones occlude."""
    items = []
    for _ in range(int(rng.integers(style.fixtures[0], style.fixtures[1] + 1))):
        kind = _pick(rng, vars(style.fixture_kinds))
        w = int(rng.uniform(*style.fixture_width) * size)
        h = int(rng.uniform(*style.fixture_height) * size)
        x = int(rng.integers(-w // 3, size - w // 2))
        if kind == "window":
            y_base = int(rng.uniform(0.6, 0.95) * horizon)
            h = min(h, y_base - 1)
        else:
            y_base = int(rng.uniform(horizon + 2, horizon + style.fixture_depth * (size - horizon)))
        items.append((y_base, kind, x, w, max(h, 4)))
    colour_range = style.fixture_rgb
    for y_base, kind, x, w, h in sorted(items, key=lambda item: item[0]):
        FIXTURES[kind](canvas, rng, x, y_base, max(w, 6), h, _colour(rng, colour_range))


def _texture(rng, style, size) -> np.ndarray:
    """Smooth stains plus fine grain, static: both frames of a pair share it."""
    cells = max(size // style.texture_cell, 2)
    blotch = cv2.resize(
        rng.standard_normal((cells, cells), dtype=np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    grain = rng.standard_normal((size, size), dtype=np.float32)
    return (style.texture * blotch + style.grain * grain)[..., None]


def _falloff(rng, style, size) -> np.ndarray:
    """Uneven ambient light: a linear ramp in a random direction, mean 1."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    ramp = float(np.cos(angle)) * xs + float(np.sin(angle)) * ys
    return (1.0 + style.falloff * ramp)[..., None]


def render_scene(rng: np.random.Generator, style, size: int) -> np.ndarray:
    """An empty scene, float32 RGB (size, size, 3) in [0, 255]."""
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    horizon = int(rng.uniform(*style.horizon) * size)
    _layout(canvas, rng, style, size, horizon)
    _fixtures(canvas, rng, style, size, horizon)
    scene = canvas.astype(np.float32) * _falloff(rng, style, size) + _texture(rng, style, size)
    return np.clip(scene, 0, 255)
