"""A site's recording: `images/<stem>.jpg` with `json/<stem>.json` holding the deployed score."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from obstacles.io.bad_inputs import BadInputs
from obstacles.io.images import IMAGE_SUFFIXES, BadImage, ImageLimits, validate_image

IMAGES_DIR = "images"
JSON_DIR = "json"
CAPTURE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class Frame:
    """One recorded image with its deployed-model score."""

    name: str  # file name inside images/
    path: Path
    score: float
    sha256: str


def read_score(path: str | Path, field: str) -> float:
    """The deployed score at `field` (dotted path, e.g. `dense.0`); ValueError says what is wrong."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        value = json.loads(data)
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


class BadFrame(ValueError):
    """A recorded frame triage cannot use: `file` is the image or the JSON at fault."""

    def __init__(self, file: str, reason: str):
        super().__init__(reason)
        self.file = file


def check_frame(
    image: str, score_file: str, score_field: str, panels: int, limits: ImageLimits | None = None
) -> tuple[float, str]:
    """The frame's deployed score and the image's sha256, once its JSON and its image's structure
    pass (what triage keeps; the hash comes from the bytes the check reads anyway).

    One check for every place that decides which frames exist: the src stage, and
    add_recording's label pre-fill, so no label row is written for an image triage will reject.
    """
    try:
        score = read_score(score_file, score_field)
    except ValueError as exc:
        raise BadFrame(score_file, str(exc)) from None
    try:
        with open(image, "rb") as handle:
            data = handle.read()
        validate_image(data, panels, limits)
    except BadImage as exc:
        raise BadFrame(image, str(exc)) from None
    return score, hashlib.sha256(data).hexdigest()


def pair_files(folder: Path, bad: BadInputs) -> list[tuple[str, str]]:
    """(image, JSON) paths sorted by image name; every unpaired or unexpected file goes to `bad`.

    Plain strings: this runs once per recorded frame, and the pairs travel to worker processes.
    """
    images_dir, json_dir = folder / IMAGES_DIR, folder / JSON_DIR
    for required in (images_dir, json_dir):
        if not required.is_dir():
            raise FileNotFoundError(f"recording {folder} has no {required.name}/ folder")
    images = {}
    for entry in _sorted_entries(images_dir):
        stem, suffix = os.path.splitext(entry.name)
        if not entry.is_file() or suffix.lower() not in IMAGE_SUFFIXES:
            bad.add(entry.path, "not an image file (unexpected name or type)")
        else:
            images[stem] = entry.path
    scores = {}
    for entry in _sorted_entries(json_dir):
        stem, suffix = os.path.splitext(entry.name)
        if entry.is_file() and suffix.lower() == ".json":
            scores[stem] = entry.path
        else:
            bad.add(entry.path, "not a JSON file")
    for stem in sorted(scores.keys() - images.keys()):
        bad.add(scores[stem], "JSON without image")
    pairs = []
    for stem, path in images.items():
        if stem in scores:
            pairs.append((path, scores[stem]))
        else:
            bad.add(path, "image without JSON")
    return pairs


def _sorted_entries(folder: Path) -> list[os.DirEntry]:
    """Folder entries by name; scandir knows each entry's type without a stat per file."""
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda entry: entry.name)


def scan_recording(
    folder: Path, score_field: str, panels: int, bad: BadInputs, limits: ImageLimits | None = None
) -> list[Frame]:
    """The frames triage keeps, sorted by name; every other file goes to `bad` with its reason."""
    frames = []
    for image, score_file in pair_files(folder, bad):
        try:
            frames.append(
                Frame(
                    os.path.basename(image), Path(image), *check_frame(image, score_file, score_field, panels, limits)
                )
            )
        except BadFrame as exc:
            bad.add(exc.file, str(exc))
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
