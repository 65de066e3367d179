"""A site's recording: `images/<stem>.jpg` with `json/<stem>.json` holding the deployed score."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from obstacles.io.bad_inputs import BadInputs
from obstacles.io.images import IMAGE_SUFFIXES

IMAGES_DIR = "images"
JSON_DIR = "json"
CAPTURE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class Frame:
    """One recorded image with its deployed-model score."""

    name: str  # file name inside images/
    path: Path
    score: float


def read_score(path: Path, field: str) -> float:
    """The deployed score at `field` (dotted path, e.g. `dense.0`); ValueError says what is wrong."""
    try:
        value = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from None
    for key in field.split("."):
        try:
            value = value[int(key)] if isinstance(value, list) else value[key]
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(f"JSON has no field {field!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"score at {field!r} is not a number: {value!r}")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"score {value!r} is not a finite number in [0, 1]")
    return float(value)


def scan_recording(folder: Path, score_field: str, bad: BadInputs) -> list[Frame]:
    """Frames with an image and a readable score, sorted by name; every mismatch goes to `bad`."""
    images_dir, json_dir = folder / IMAGES_DIR, folder / JSON_DIR
    for required in (images_dir, json_dir):
        if not required.is_dir():
            raise FileNotFoundError(f"recording {folder} has no {required.name}/ folder")
    images = {}
    for path in sorted(images_dir.iterdir()):
        if path.is_dir() or path.suffix.lower() not in IMAGE_SUFFIXES:
            bad.add(path, "not an image file (unexpected name or type)")
        else:
            images[path.stem] = path
    scores = {}
    for path in sorted(json_dir.iterdir()):
        if path.is_file() and path.suffix.lower() == ".json":
            scores[path.stem] = path
        else:
            bad.add(path, "not a JSON file")
    for stem in sorted(scores.keys() - images.keys()):
        bad.add(scores[stem], "JSON without image")
    frames = []
    for stem, path in images.items():
        if stem not in scores:
            bad.add(path, "image without JSON")
            continue
        try:
            frames.append(Frame(path.name, path, read_score(scores[stem], score_field)))
        except ValueError as exc:
            bad.add(scores[stem], str(exc))
    return frames


def capture_time(stem: str) -> datetime | None:
    """Capture time carried in a field stem, e.g. `..._2022-09-07T21-06-42`."""
    match = CAPTURE_TIME.search(stem)
    if not match:
        return None
    try:
        return datetime.fromisoformat(f"{match[1]}T{match[2]}:{match[3]}:{match[4]}")
    except ValueError:
        return None
