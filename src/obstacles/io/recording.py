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
class JsonLimits:
    """What a recorder's JSON may be (conf/pipeline.yaml `recording`): it is read whole and parsed
    recursively, so a huge or deeply nested file would cost memory or crash the reader unnamed."""

    max_bytes: int
    max_depth: int

    @classmethod
    def from_config(cls, recording) -> JsonLimits:
        return cls(int(recording.max_json_bytes), int(recording.max_json_depth))


@dataclass(frozen=True)
class Frame:
    """One recorded image with its deployed-model score."""

    name: str  # file name inside images/
    path: Path
    score: float
    sha256: str


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are all different: with a repeated key, which value the recorder
    meant is a guess (Python keeps the last, other readers the first)."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"duplicate key {repeated!r} in one JSON object")
    return dict(pairs)


def _depth(value) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, `[]` is 1), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def read_json(path: str | Path, limits: JsonLimits | None = None):
    """A recorder JSON, parsed; ValueError (never RecursionError or MemoryError) says what is wrong:
    malformed, a duplicate key, over `limits` in bytes (checked before reading) or nesting."""
    size = os.path.getsize(path)
    if limits is not None and size > limits.max_bytes:
        raise ValueError(f"JSON of {size} bytes, over recording.max_json_bytes={limits.max_bytes}")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        value = json.loads(data, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed JSON ({exc.msg if hasattr(exc, 'msg') else exc})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None
    if limits is not None and _depth(value) > limits.max_depth:
        raise ValueError(f"JSON nested deeper than recording.max_json_depth={limits.max_depth}")
    return value


def read_score(path: str | Path, field: str, limits: JsonLimits | None = None) -> float:
    """The deployed score at `field` (dotted path, e.g. `dense.0`); ValueError says what is wrong.

    A list on the way must hold exactly one value (the recorder writes `{"dense": [score]}`): with
    several, which one is the deployed score is a guess, so the frame is reported, not read."""
    value = read_json(path, limits)
    for key in field.split("."):
        if isinstance(value, list) and len(value) != 1:
            raise ValueError(f"{len(value)} values where field {field!r} expects one; which is the score is a guess")
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
    image: str,
    score_file: str,
    score_field: str,
    panels: int,
    limits: ImageLimits | None = None,
    json_limits: JsonLimits | None = None,
) -> tuple[float, str]:
    """The frame's deployed score and the image's sha256, once its JSON and its image's structure
    pass (what triage keeps; the hash comes from the bytes the check reads anyway).

    One check for every place that decides which frames exist: the src stage, and
    add_recording's label pre-fill, so no label row is written for an image triage will reject.
    """
    try:
        score = read_score(score_file, score_field, json_limits)
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
    images = _by_stem(
        _sorted_entries(images_dir),
        lambda suffix: suffix.lower() in IMAGE_SUFFIXES,
        "not an image file (unexpected name or type)",
        bad,
    )
    scores = _by_stem(_sorted_entries(json_dir), lambda suffix: suffix.lower() == ".json", "not a JSON file", bad)
    for stem in sorted(scores.keys() - images.keys()):
        bad.add(scores[stem], "JSON without image")
    pairs = []
    for stem, path in images.items():
        if stem in scores:
            pairs.append((path, scores[stem]))
        else:
            bad.add(path, "image without JSON")
    return pairs


def _by_stem(entries: list[os.DirEntry], expected, refusal: str, bad: BadInputs) -> dict[str, str]:
    """stem -> path of the files of the expected kind. Files sharing a stem (`dup.jpg` beside
    `dup.png`, `Case.JPG` beside `Case.jpg`) are all reported and none used: which one the JSON of
    that stem scores is a guess, and keeping one would drop the other unseen."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        stem, suffix = os.path.splitext(entry.name)
        if not entry.is_file() or not expected(suffix):
            bad.add(entry.path, refusal)
        else:
            found.setdefault(stem, []).append(entry.path)
    unique = {}
    for stem, paths in found.items():
        if len(paths) == 1:
            unique[stem] = paths[0]
            continue
        names = ", ".join(os.path.basename(p) for p in paths)
        for path in paths:
            bad.add(path, f"{len(paths)} files share the stem {stem!r} ({names}): rename all but one")
    return unique


def _sorted_entries(folder: Path) -> list[os.DirEntry]:
    """Folder entries by name; scandir knows each entry's type without a stat per file."""
    with os.scandir(folder) as entries:
        return sorted(entries, key=lambda entry: entry.name)


def scan_recording(
    folder: Path,
    score_field: str,
    panels: int,
    bad: BadInputs,
    limits: ImageLimits | None = None,
    json_limits: JsonLimits | None = None,
) -> list[Frame]:
    """The frames triage keeps, sorted by name; every other file goes to `bad` with its reason."""
    frames = []
    for image, score_file in pair_files(folder, bad):
        try:
            frames.append(
                Frame(
                    os.path.basename(image),
                    Path(image),
                    *check_frame(image, score_file, score_field, panels, limits, json_limits),
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
