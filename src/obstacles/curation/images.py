"""Image files as model inputs, whatever their layout: pairs, triplets, any folder.

The recorder's mask panel is never fed to the model: a 7-channel model was trained on the
diff mask computed from reference and current (`obstacles.weights.curve.diff_mask`), so the
same mask is computed here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from obstacles.data.dataset import to_tensor
from obstacles.io.images import IMAGE_SUFFIXES, BadImage, decode_image, resize_panel, split_panels
from obstacles.weights.curve import diff_mask

PANEL_LAYOUTS = (2, 3)  # [reference | current] or [reference | current | mask]


def list_images(folder: str | Path) -> list[Path]:
    """Image files below folder, recursively, sorted."""
    return [p for p in sorted(Path(folder).rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def image_files(source: str | Path, role: str) -> list[Path]:
    """One image file, or every image below a folder; nothing found is an error naming the path."""
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"{role} {source}: no such file or folder")
    files = list_images(source)
    if not files:
        raise ValueError(f"{role} {source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def detect_panels(image: np.ndarray, panels: int | None) -> int:
    """The configured panel count, or 2/3 from an exact 2:1 / 3:1 aspect ratio (square panels)."""
    if panels:
        return int(panels)
    height, width = image.shape[:2]
    for count in PANEL_LAYOUTS:
        if width == count * height:
            return count
    raise BadImage(f"{width}x{height} is neither a 2:1 pair nor a 3:1 triplet: set panels= for non-square panels")


def sample_tensor(
    data: bytes, *, panels: int | None, panel_size: int | None, with_diff_mask: bool, pixel_threshold: float
) -> torch.Tensor:
    """(C, H, W) model input of one encoded image, normalised as in training; BadImage if unusable."""
    image = decode_image(data)  # BadImage for zero-byte, truncated or non-image data
    reference, current = split_panels(image, detect_panels(image, panels))[:2]
    reference, current = resize_panel(reference, panel_size), resize_panel(current, panel_size)
    mask = diff_mask(reference, current, pixel_threshold).astype(np.uint8) if with_diff_mask else None
    return to_tensor(reference, current, mask)
