"""Bring a new recording in: copy it, register the site, pre-fill its label file, version it.

Replaces the field's notebook steps (aws s3 cp, hand-made folders, hand-edited lists).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.commands.storage import DVC
from obstacles.config import CONF_DIR, entry_point
from obstacles.io.bad_inputs import BadInputs
from obstacles.io.outputs import atomic_dir, inside, write_csv
from obstacles.io.recording import IMAGES_DIR, JSON_DIR, scan_recording
from obstacles.lineage import LABEL_HEADER, NO_OBSTACLE, OBSTACLE, SKIP, prefill_label
from obstacles.sites import register_site, validate_site_id


def fetch(source: str, target: Path, endpoint_url: str | None) -> None:
    """Copy images/ and json/ of a local folder or an S3 prefix into target (never touching the source)."""
    if source.startswith("s3://"):
        import s3fs

        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint_url} if endpoint_url else {})
        prefix = source[len("s3://") :].rstrip("/")
        for sub in (IMAGES_DIR, JSON_DIR):
            if not fs.exists(f"{prefix}/{sub}"):
                raise FileNotFoundError(f"{source} has no {sub}/ prefix")
            fs.get(f"{prefix}/{sub}/", str(target / sub) + "/", recursive=True)
    else:
        folder = Path(source)
        for sub in (IMAGES_DIR, JSON_DIR):
            if not (folder / sub).is_dir():
                raise FileNotFoundError(f"{folder} has no {sub}/ folder: not a recording")
            shutil.copytree(folder / sub, target / sub, symlinks=False)
    escaped = [p for p in target.rglob("*") if not inside(p, target)]
    if escaped:
        raise ValueError(f"{source} holds paths that leave the recording: {escaped[:3]}")


def prefill_labels(recording: Path, pipeline: DictConfig) -> tuple[list[tuple], BadInputs]:
    """Label rows from the deployed score (the reviewer starts from the model's opinion), for the
    frames triage will keep: a file it rejects gets no row, so `dvc repro` needs no hand edit."""
    bad = BadInputs("skip", root=recording)
    frames = scan_recording(recording, pipeline.recording.score_field, int(pipeline.recording.panels), bad)
    return [
        (frame.name, prefill_label(frame.score, pipeline.src.obstacle_above, pipeline.src.no_obstacle_at_most), "")
        for frame in frames
    ], bad


def run(cfg: DictConfig) -> Path:
    site = validate_site_id(str(cfg.recording_id))
    root = Path(cfg.paths.root_dir)
    recording = Path(cfg.paths.recordings_dir) / site
    labels = Path(cfg.paths.labels_dir) / f"{site}.csv"
    if recording.exists() and any(recording.iterdir()):
        raise FileExistsError(f"{recording} already exists: choose a new <site>_<yyyymm>_<seq>")
    if labels.exists():
        raise FileExistsError(f"{labels} already exists: it may hold a reviewer's work; move it away first")
    pipeline = OmegaConf.load(Path(CONF_DIR) / "pipeline.yaml")
    with atomic_dir(recording) as staging:
        fetch(str(cfg.source), staging, cfg.s3.endpoint_url)
    rows, bad = prefill_labels(recording, pipeline)
    write_csv(labels, LABEL_HEADER, rows)
    register_site(root, site, cfg.pixel_threshold, note=cfg.note)
    counts = {label: sum(r[1] == label for r in rows) for label in (OBSTACLE, NO_OBSTACLE, SKIP)}
    print(
        f"[add_recording] {site}: {len(rows)} frames copied to {recording} "
        f"({counts[OBSTACLE]} obstacle, {counts[NO_OBSTACLE]} no_obstacle, {counts[SKIP]} skip pre-filled)"
    )
    if bad.items:
        print(
            f"[add_recording] {len(bad.items)} file(s) triage will reject got no label row, e.g. "
            f"{bad.items[0][0]}: {bad.items[0][1]} (the src stage lists them all in its bad_inputs.csv)"
        )
    if cfg.dvc_add and (root / ".dvc").is_dir():
        subprocess.run([*DVC, "add", "data"], cwd=root, check=True)
    print(f"next: review {labels}, then `dvc repro` builds {site} and the merged dataset")
    return recording


_hydra_main = entry_point("add_recording", run)


def main() -> None:
    """`site=<id>` names the new recording; Hydra would read it as a choice in the conf/site/ group,
    where a new site has no file yet, so it is passed on as `recording_id`."""
    sys.argv = [f"recording_id={arg[len('site=') :]}" if arg.startswith("site=") else arg for arg in sys.argv]
    _hydra_main()


if __name__ == "__main__":
    main()
