"""Bring a new recording in: `python -m obstacles.commands.add_recording source=<folder or s3://...>
site=<site>_<yyyymm>_<seq>`.

Thin entry point over `obstacles.lineage.recordings.add_recording` (config: conf/add_recording.yaml):
copy it, register the site, pre-fill its label file, then `dvc add data` to version it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.infra.config import CONF_DIR, entry_point
from obstacles.infra.dvc_cli import dvc_add
from obstacles.io.images import ImageLimits
from obstacles.io.recording import JsonLimits
from obstacles.lineage.names import NO_OBSTACLE, OBSTACLE, SKIP
from obstacles.lineage.recordings import Triage, add_recording
from obstacles.lineage.triage import TriageCutoffs


def run(cfg: DictConfig) -> Path:
    pipeline = OmegaConf.load(Path(CONF_DIR) / "pipeline.yaml")  # how the src stage will read it
    triage = Triage(
        score_field=pipeline.recording.score_field,
        panels=int(pipeline.recording.panels),
        cutoffs=TriageCutoffs(pipeline.src.obstacle_above, pipeline.src.no_obstacle_at_most),
        limits=ImageLimits.from_config(pipeline.recording),
        json_limits=JsonLimits.from_config(pipeline.recording),
    )
    root = Path(cfg.paths.root_dir)
    added = add_recording(
        str(cfg.recording_id),
        str(cfg.source),
        root=root,
        recordings_dir=Path(cfg.paths.recordings_dir),
        labels_dir=Path(cfg.paths.labels_dir),
        triage=triage,
        pixel_threshold=cfg.pixel_threshold,
        note=cfg.note,
        endpoint_url=cfg.s3.endpoint_url,
    )
    counts, bad = added.counts, added.bad
    print(
        f"[add_recording] {added.site}: {len(added.rows)} frames copied to {added.recording} "
        f"({counts[OBSTACLE]} obstacle, {counts[NO_OBSTACLE]} no_obstacle, {counts[SKIP]} skip pre-filled)"
    )
    if bad.items:
        print(
            f"[add_recording] {len(bad.items)} file(s) triage will reject got no label row, e.g. "
            f"{bad.items[0][0]}: {bad.items[0][1]} (the src stage lists them all in its bad_inputs.csv)"
        )
    if cfg.dvc_add and (root / ".dvc").is_dir():
        dvc_add(root, "data")
    print(f"next: review {added.labels}, then `dvc repro` builds {added.site} and the merged dataset")
    return added.recording


_hydra_main = entry_point("add_recording", run)


def main() -> None:
    """`site=<id>` names the new recording; Hydra would read it as a choice in the conf/site/ group,
    where a new site has no file yet, so it is passed on as `recording_id`."""
    sys.argv = [f"recording_id={arg[len('site=') :]}" if arg.startswith("site=") else arg for arg in sys.argv]
    _hydra_main()


if __name__ == "__main__":
    main()
