"""src: triage a recording by the deployed score into classes and score bands (byte copies)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.images import BadImage, validate_image
from obstacles.io.outputs import atomic_dir, write_csv
from obstacles.io.parallel import parallel_map
from obstacles.io.recording import Frame, scan_recording
from obstacles.stages.common import bad_inputs, site_dir, site_name

INDEX_NAME = "index.csv"


@dataclass(frozen=True)
class TriageClass:
    folder: str  # e.g. classified_obstacle
    band_prefix: str  # e.g. obs
    low: float
    high: float


def triage_classes(obstacle_above: float, no_obstacle_at_most: float) -> tuple[TriageClass, ...]:
    return (
        TriageClass("classified_no_obstacle", "no_obs", 0.0, no_obstacle_at_most),
        TriageClass("classified_not_decided", "not_decided", no_obstacle_at_most, obstacle_above),
        TriageClass("classified_obstacle", "obs", obstacle_above, 1.0),
    )


def classify(score: float, classes: tuple[TriageClass, ...]) -> TriageClass:
    """no_obstacle: score <= low cut; obstacle: score > high cut; the rest is not decided."""
    no_obstacle, not_decided, obstacle = classes
    if score <= no_obstacle.high:
        return no_obstacle
    return obstacle if score > obstacle.low else not_decided


def band_name(score: float, cls: TriageClass, nranges: int) -> str:
    """Equal-width band of the class's score range holding this score, two decimals."""
    width = (cls.high - cls.low) / nranges
    index = min(max(math.ceil((score - cls.low) / width) - 1, 0), nranges - 1)
    low = cls.low + index * width
    return f"{cls.band_prefix}_between_{low:.2f}_{low + width:.2f}"


def _validate_and_copy(job: tuple[Frame, int, Path]) -> str | None:
    """Copy a decodable image to its place (the bytes read once); otherwise say why not."""
    frame, panels, target = job
    data = frame.path.read_bytes()
    try:
        validate_image(data, panels)
    except BadImage as exc:
        return str(exc)
    target.write_bytes(data)
    return None


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    recording = Path(cfg.paths.recordings_dir) / site
    bad = bad_inputs(cfg)
    frames = scan_recording(recording, cfg.recording.score_field, bad)
    classes = triage_classes(cfg.triage.obstacle_above, cfg.triage.no_obstacle_at_most)
    rows = []
    with atomic_dir(site_dir(cfg) / "src") as out:
        places = []
        for frame in frames:
            cls = classify(frame.score, classes)
            places.append(Path(cls.folder) / band_name(frame.score, cls, cfg.triage.nranges) / frame.name)
        for folder in {place.parent for place in places}:
            (out / folder).mkdir(parents=True, exist_ok=True)
        jobs = [(frame, cfg.recording.panels, out / place) for frame, place in zip(frames, places)]
        problems = parallel_map(_validate_and_copy, jobs, workers=cfg.workers, desc=f"triage {site}")
        for frame, place, problem in zip(frames, places, problems):
            if problem:
                bad.add(frame.path, problem)
                continue
            rows.append((frame.name, f"{frame.score:.6f}", place.parts[0], place.parent.name, place.as_posix()))
        for folder in {place.parent for place in places}:
            if not any((out / folder).iterdir()):  # every image of this band was bad
                (out / folder).rmdir()
        write_csv(out / INDEX_NAME, ("image", "score", "class", "band", "path"), rows)
        bad.write(out)
    print(bad.summary(f"src {site}", len(rows)))
    return site_dir(cfg) / "src"


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
