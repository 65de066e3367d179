"""Decoding, validating and encoding side-by-side panel images.

Two lines of defence, so that no image is decoded only to be checked:
- `validate_image` checks what needs no pixels: the header parses, its width x height is within
  the configured pixel limit (a 639-byte JPEG may claim 60000x30000, 5.4 GB once decoded), the
  width splits into square panels of a usable size, the file is complete (a JPEG's end-of-image marker follows its last scan; a PNG's
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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ImageLimits:
    """What a recorded image may be, read from its header before a pixel is decoded
    (conf/pipeline.yaml `recording`): a header is a claim anyone can write, and decoding believes it."""

    max_pixels: int  # width x height of the whole image
    min_panel_px: int  # a panel smaller than this holds no scene (a 3x1 image has 1x1 panels)

    @classmethod
    def from_config(cls, recording) -> ImageLimits:
        return cls(int(recording.max_pixels), int(recording.min_panel_px))

    def check(self, width: int, height: int, n_panels: int) -> None:
        """BadImage unless the size is within the pixel limit and splits into square, large enough panels."""
        if width * height > self.max_pixels:
            raise BadImage(
                f"header claims {width}x{height} = {width * height} pixels, over the limit of {self.max_pixels} "
                "(recording.max_pixels): an image bomb or a damaged header; not decoded"
            )
        panel = check_panels(width, height, n_panels)
        if panel != height:
            raise BadImage(f"panels are {panel}x{height} ({width}x{height} in {n_panels}), not square")
        if panel < self.min_panel_px:
            raise BadImage(f"panels of {panel}x{height} px are under recording.min_panel_px={self.min_panel_px}")


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


def validate_image(data: bytes, n_panels: int, limits: ImageLimits | None = None) -> tuple[int, int]:
    """(width, height) of a complete image file with n_panels equal panels (square and within
    `limits`, checked from the header before any data is read further); BadImage otherwise."""
    if data.startswith(JPEG_START):
        size = _jpeg_size(data, limits, n_panels)
    else:
        with _decoding(data) as image:
            size = image.size
            if limits is not None:
                limits.check(size[0], size[1], n_panels)
            if image.format == "PNG":
                image.verify()  # every chunk present with a matching checksum, without inflating pixels
            else:
                image.load()
    check_panels(size[0], size[1], n_panels)
    return size


def _jpeg_size(data: bytes, limits: ImageLimits | None = None, n_panels: int = 1) -> tuple[int, int]:
    """(width, height) from the header (within `limits`); the file must also end its last scan."""
    width, height = _jpeg_header_size(data)
    if limits is not None:
        limits.check(width, height, n_panels)
    if data.rfind(JPEG_END) < data.rfind(JPEG_SCAN):  # neither can occur inside coded data
        raise BadImage("corrupt or truncated image (no end-of-image marker after the last scan)")
    return width, height


@contextmanager
def _jpeg_errors() -> Iterator[None]:
    try:
        yield
    except ValueError as exc:  # strict mode: libjpeg's warnings are errors too
        raise BadImage(f"corrupt or truncated image ({exc})") from None


def decode_image(source: str | Path | bytes, max_pixels: int | None = None) -> np.ndarray:
    """Full-resolution RGB uint8 array (H, W, 3) from a path or encoded bytes; BadImage if unusable,
    or (with `max_pixels`) if its header claims more pixels, before any is decoded."""
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
    try:
        if data.startswith(JPEG_START):
            if max_pixels is not None:
                _check_pixels(*_jpeg_header_size(data), max_pixels)
            return _decode_jpeg(data)
        with _decoding(data) as image:
            if max_pixels is not None:
                _check_pixels(*image.size, max_pixels)
            return np.array(image if image.mode == "RGB" else image.convert("RGB"))  # writable
    except BadImage as exc:
        raise BadImage(f"{source}: {exc}" if isinstance(source, (str, Path)) else str(exc)) from None


def _jpeg_header_size(data: bytes) -> tuple[int, int]:
    with _jpeg_errors():
        height, width, _, _ = simplejpeg.decode_jpeg_header(data, strict=True)
    return width, height


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise BadImage(f"header claims {width}x{height} = {width * height} pixels, over the limit of {max_pixels}")


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
