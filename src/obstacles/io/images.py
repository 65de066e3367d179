"""Decoding, validating and encoding side-by-side panel images.

Two lines of defence, so that no image is decoded only to be checked:
- `validate_image` checks what needs no pixels: the header parses, the width splits into the
  panels, the file is complete (a JPEG's end-of-image marker follows its last scan; a PNG's
  chunks and checksums are intact). Triage runs it on every recorded image.
- `decode_image` raises BadImage for anything the decoder rejects deeper in the data; the stages
  that need pixels report those as bad inputs, so a corrupt image is still named, never used.

JPEG (known by its signature) goes through libjpeg-turbo directly (simplejpeg): the header is read
in C, strict decoding refuses the corrupt scan data Pillow and OpenCV let through with a warning,
and no copy or colour swap sits between the decoder and the array. Other formats (PNG) go
through Pillow.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
JPEG_START = b"\xff\xd8\xff"  # start-of-image marker and the next marker's first byte
JPEG_SCAN, JPEG_END = b"\xff\xda", b"\xff\xd9"  # start-of-scan and end-of-image markers
JPEG_SUBSAMPLING = "420"  # 4:2:0 chroma, the libjpeg and OpenCV default for colour


class BadImage(ValueError):
    """An image file that cannot be used; the message says why."""


def check_panels(width: int, height: int, n_panels: int) -> int:
    """Panel width for an image of this size, or BadImage naming the problem."""
    if width <= 0 or height <= 0:
        raise BadImage(f"empty image ({width}x{height})")
    if width % n_panels:
        raise BadImage(f"width {width} is not divisible into {n_panels} panels")
    return width // n_panels


@contextmanager
def _decoding(data: bytes) -> Iterator[Image.Image]:
    """An opened image whose decoding problems all surface as BadImage saying why."""
    if not data:
        raise BadImage("zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # PIL warns instead of failing on some corruptions
            with Image.open(io.BytesIO(data)) as image:
                yield image
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage("not an image") from None
    except (OSError, SyntaxError, ValueError, Warning, Image.DecompressionBombError) as exc:
        raise BadImage(f"corrupt or truncated image ({exc})") from None


def validate_image(data: bytes, n_panels: int) -> tuple[int, int]:
    """(width, height) of a complete image file with n_panels equal panels; BadImage otherwise."""
    if data.startswith(JPEG_START):
        size = _jpeg_size(data)
    else:
        with _decoding(data) as image:
            size = image.size
            if image.format == "PNG":
                image.verify()  # every chunk present with a matching checksum, without inflating pixels
            else:
                image.load()
    check_panels(size[0], size[1], n_panels)
    return size


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header; the file must also end its last scan."""
    with _jpeg_errors():
        height, width, _, _ = simplejpeg.decode_jpeg_header(data, strict=True)
    if data.rfind(JPEG_END) < data.rfind(JPEG_SCAN):  # neither can occur inside coded data
        raise BadImage("corrupt or truncated image (no end-of-image marker after the last scan)")
    return width, height


@contextmanager
def _jpeg_errors() -> Iterator[None]:
    try:
        yield
    except ValueError as exc:  # strict mode: libjpeg's warnings are errors too
        raise BadImage(f"corrupt or truncated image ({exc})") from None


def decode_image(source: str | Path | bytes) -> np.ndarray:
    """Full-resolution RGB uint8 array (H, W, 3) from a path or encoded bytes; BadImage if unusable."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
    try:
        if data.startswith(JPEG_START):
            return _decode_jpeg(data)
        with _decoding(data) as image:
            return np.array(image if image.mode == "RGB" else image.convert("RGB"))  # writable
    except BadImage as exc:
        raise BadImage(f"{source}: {exc}" if isinstance(source, (str, Path)) else str(exc)) from None


def _decode_jpeg(data: bytes) -> np.ndarray:
    with _jpeg_errors():
        return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)


def split_panels(image: np.ndarray, n_panels: int) -> list[np.ndarray]:
    """Equal-width panels, left to right: [reference, current(, mask)]."""
    width = check_panels(image.shape[1], image.shape[0], n_panels)
    return [image[:, i * width : (i + 1) * width] for i in range(n_panels)]


def resize_panel(panel: np.ndarray, size: int | None) -> np.ndarray:
    """A square panel of `size` px (area interpolation); None keeps the stored size."""
    if not size or panel.shape[:2] == (size, size):
        return panel
    return cv2.resize(panel, (int(size), int(size)), interpolation=cv2.INTER_AREA)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG bytes of an RGB array; deterministic for the same pixels and quality."""
    return simplejpeg.encode_jpeg(
        np.ascontiguousarray(image),
        quality=int(quality),
        colorspace="RGB",
        colorsubsampling=JPEG_SUBSAMPLING,
        fastdct=False,
    )


def read_pair(path: str | Path, n_panels: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(reference, current) RGB panels of a sample file; any mask panel is dropped."""
    panels = split_panels(decode_image(path), n_panels)
    return panels[0], panels[1]
