"""src: triage a recording by the deployed score into classes and score bands (the same bytes, linked)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.outputs import atomic_dir, link_or_copy, write_csv
from obstacles.io.parallel import parallel_map
from obstacles.io.recording import BadFrame, check_frame, pair_files
from obstacles.labels import NO_OBSTACLE, OBSTACLE
from obstacles.stages.common import bad_inputs, site_dir, site_name

INDEX_NAME = "index.csv"


@dataclass(frozen=True)
class TriageClass:
    folder: str  # e.g. classified_obstacle
    band_prefix: str  # e.g. obs
    low: float
    high: float
    label: str  # the deployed model's opinion: obstacle, no_obstacle, or "" (not decided)


def triage_classes(obstacle_above: float, no_obstacle_at_most: float) -> tuple[TriageClass, ...]:
    return (
        TriageClass("classified_no_obstacle", "no_obs", 0.0, no_obstacle_at_most, NO_OBSTACLE),
        TriageClass("classified_not_decided", "not_decided", no_obstacle_at_most, obstacle_above, ""),
        TriageClass("classified_obstacle", "obs", obstacle_above, 1.0, OBSTACLE),
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
    return band_names(cls, nranges)[min(max(math.ceil((score - cls.low) / width) - 1, 0), nranges - 1)]


def band_names(cls: TriageClass, nranges: int) -> list[str]:
    width = (cls.high - cls.low) / nranges
    lows = [cls.low + index * width for index in range(nranges)]
    return [f"{cls.band_prefix}_between_{low:.2f}_{low + width:.2f}" for low in lows]


@dataclass(frozen=True)
class Triage:
    """What a worker needs to place one frame (built once from the config)."""

    classes: tuple[TriageClass, ...]
    nranges: int
    panels: int
    score_field: str
    out: str

    def place(self, score: float, name: str) -> str:
        """`<class folder>/<band>/<name>`, relative to the output."""
        cls = classify(score, self.classes)
        return f"{cls.folder}/{band_name(score, cls, self.nranges)}/{name}"

    def __call__(self, files: tuple[str, str]) -> tuple[float, str] | tuple[str, str]:
        """(score, place) of a good frame, linked into place (no byte written); else (bad file, why)."""
        image, score_file = files
        try:
            score = check_frame(image, score_file, self.score_field, self.panels)
        except BadFrame as exc:
            return exc.file, str(exc)
        place = self.place(score, os.path.basename(image))
        link_or_copy(image, os.path.join(self.out, place))
        return score, place


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    recording = Path(cfg.paths.recordings_dir) / site
    bad = bad_inputs(cfg)
    files = pair_files(recording, bad)
    rows = []
    with atomic_dir(site_dir(cfg) / "src") as out:
        triage = Triage(
            triage_classes(cfg.triage.obstacle_above, cfg.triage.no_obstacle_at_most),
            int(cfg.triage.nranges),
            int(cfg.recording.panels),
            str(cfg.recording.score_field),
            str(out),
        )
        bands = [out / cls.folder / band for cls in triage.classes for band in band_names(cls, triage.nranges)]
        for band in bands:
            band.mkdir(parents=True)
        results = parallel_map(triage, files, workers=cfg.workers, desc=f"triage {site}")
        for (image, _), (first, second) in zip(files, results):
            if isinstance(first, str):  # (bad file, why)
                bad.add(first, second)
                continue
            cls, band, name = second.split("/")
            rows.append((name, f"{first:.6f}", cls, band, second))
        for band in bands:
            if not any(band.iterdir()):  # no image landed in this band
                band.rmdir()
        write_csv(out / INDEX_NAME, ("image", "score", "class", "band", "path"), rows)
        bad.write(out)
    print(bad.summary(f"src {site}", len(rows)))
    return site_dir(cfg) / "src"


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
