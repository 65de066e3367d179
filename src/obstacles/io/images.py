"""Decoding, validating and encoding side-by-side panel images.

Validation decodes the JPEG at 1/8 scale (DCT scaling): the whole entropy-coded stream is
still read, so truncation and corruption are caught at a fraction of a full decode.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class BadImage(ValueError):
    """An image file that cannot be used; the message says why."""


def check_panels(width: int, height: int, n_panels: int) -> int:
    """Panel width for an image of this size, or BadImage naming the problem."""
    if width <= 0 or height <= 0:
        raise BadImage(f"empty image ({width}x{height})")
    if width % n_panels:
        raise BadImage(f"width {width} is not divisible into {n_panels} panels")
    return width // n_panels


def validate_image(data: bytes, n_panels: int) -> tuple[int, int]:
    """(width, height) of a decodable image with n_panels equal panels; BadImage otherwise."""
    if not data:
        raise BadImage("zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # PIL warns instead of failing on some corruptions
            with Image.open(io.BytesIO(data)) as image:
                size = image.size
                image.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
                image.load()
    except UnidentifiedImageError:
        raise BadImage("not an image") from None
    except (OSError, SyntaxError, ValueError, Warning, Image.DecompressionBombError) as exc:
        raise BadImage(f"corrupt or truncated image ({exc})") from None
    check_panels(size[0], size[1], n_panels)
    return size


def decode_image(source: str | Path | bytes, rgb: bool = True) -> np.ndarray:
    """Full-resolution uint8 array (H, W, 3) from a path or encoded bytes.

    rgb=False keeps OpenCV's BGR order: cheaper where the order does not matter (panel
    shuffling, pixel differences) as long as the same flag goes to `encode_jpeg`.
    """
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if array is None:
        raise BadImage(f"cannot decode {source if not isinstance(source, bytes) else 'bytes'}")
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB) if rgb else array


def split_panels(image: np.ndarray, n_panels: int) -> list[np.ndarray]:
    """Equal-width panels, left to right: [reference, current(, mask)]."""
    width = check_panels(image.shape[1], image.shape[0], n_panels)
    return [image[:, i * width : (i + 1) * width] for i in range(n_panels)]


def resize_panel(panel: np.ndarray, size: int | None) -> np.ndarray:
    """A square panel of `size` px (area interpolation); None keeps the stored size."""
    if not size or panel.shape[:2] == (size, size):
        return panel
    return cv2.resize(panel, (int(size), int(size)), interpolation=cv2.INTER_AREA)


def encode_jpeg(image: np.ndarray, quality: int, rgb: bool = True) -> bytes:
    """Baseline JPEG bytes; deterministic for the same pixels and quality."""
    image = np.ascontiguousarray(image)
    ok, buffer = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if rgb else image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buffer.tobytes()


def read_pair(path: str | Path, n_panels: int = 2, rgb: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(reference, current) panels of a sample file; any mask panel is dropped."""
    panels = split_panels(decode_image(path, rgb), n_panels)
    return panels[0], panels[1]
