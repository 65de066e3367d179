"""Recorder-like frames written by hand: a triplet image [reference | current | mask], its score
file, and the recorder's file stem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from obstacles.io.images import encode_jpeg


def triplet(rng: np.random.Generator, panel: int = 32, obstacle: bool = False, panels: int = 3) -> bytes:
    """A JPEG of `panels` panels side by side; an obstacle is a white square in the current panel."""
    reference = rng.integers(40, 200, (panel, panel, 3), dtype=np.uint8)
    current = reference.copy()
    if obstacle:
        current[panel // 4 : panel // 2, panel // 4 : panel // 2] = 255
    mask = np.zeros_like(reference)
    return encode_jpeg(np.hstack([reference, current, mask][:panels]), 95)


def write_frame(recording: Path, stem: str, score, image: bytes | None = None, payload=None) -> None:
    """`<recording>/images/<stem>.jpg` and `<recording>/json/<stem>.json` (the score, or payload verbatim)."""
    (recording / "images").mkdir(parents=True, exist_ok=True)
    (recording / "json").mkdir(parents=True, exist_ok=True)
    if image is not None:
        (recording / "images" / f"{stem}.jpg").write_bytes(image)
    if payload is not None or score is not None:
        text = payload if payload is not None else json.dumps({"dense": [score]})
        (recording / "json" / f"{stem}.json").write_text(text)


def stem(i: int, minute: int | None = None) -> str:
    """The recorder's name for frame i, captured `minute` minutes after 06:00 (default 5 * i)."""
    minute = i * 5 if minute is None else minute
    return f"1116_obstacles_classification_2022-09-07T{6 + minute // 60:02d}-{minute % 60:02d}-{i % 60:02d}"
