"""src: triage a recording by the deployed score into classes and score bands: a manifest
(`index.csv`: image, path, sha256, score, class, band) over the recording's own files, no copy."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from obstacles.infra.config import entry_point
from obstacles.infra.parallel import parallel_map
from obstacles.io.images import ImageLimits
from obstacles.io.manifests import project_relative
from obstacles.io.outputs import atomic_dir, write_csv
from obstacles.io.recording import BadFrame, JsonLimits, check_frame, pair_files
from obstacles.lineage.names import INDEX_COLUMNS, INDEX_NAME, SRC_DIR
from obstacles.lineage.settings import bad_inputs, site_dir, site_name
from obstacles.lineage.triage import TriageClass, TriageCutoffs, band_name, classify


@dataclass(frozen=True)
class Triage:
    """What a worker needs to place one frame (built once from the config)."""

    classes: tuple[TriageClass, ...]
    nranges: int
    panels: int
    score_field: str
    limits: ImageLimits  # from the header, before any pixel is decoded
    json_limits: JsonLimits

    def place(self, score: float) -> tuple[str, str]:
        """(class folder, band) of a score."""
        cls = classify(score, self.classes)
        return cls.folder, band_name(score, cls, self.nranges)

    def __call__(self, files: tuple[str, str]) -> tuple[float, str] | tuple[str, str]:
        """(score, sha256) of a good frame; else (bad file, why)."""
        image, score_file = files
        try:
            return check_frame(image, score_file, self.score_field, self.panels, self.limits, self.json_limits)
        except BadFrame as exc:
            return exc.file, str(exc)


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    root = Path(cfg.paths.root_dir)
    recording = Path(cfg.paths.recordings_dir) / site
    bad = bad_inputs(cfg)
    files = pair_files(recording, bad)
    triage = Triage(
        TriageCutoffs(cfg.src.obstacle_above, cfg.src.no_obstacle_at_most).classes(),
        int(cfg.src.nranges),
        int(cfg.recording.panels),
        str(cfg.recording.score_field),
        ImageLimits.from_config(cfg.recording),
        JsonLimits.from_config(cfg.recording),
    )
    images = project_relative(recording / "images", root)
    rows = []
    with atomic_dir(site_dir(cfg) / SRC_DIR) as out:
        results = parallel_map(triage, files, workers=cfg.workers, desc=f"src {site}")
        for (image, _), (first, second) in zip(files, results):
            if isinstance(first, str):  # (bad file, why)
                bad.add(first, second)
                continue
            name = os.path.basename(image)
            rows.append((name, f"{images}/{name}", second, f"{first:.6f}", *triage.place(first)))
        write_csv(out / INDEX_NAME, INDEX_COLUMNS, rows)
        bad.write(out)
    print(bad.summary(f"src {site}", len(rows)))
    return site_dir(cfg) / SRC_DIR


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
