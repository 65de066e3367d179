"""Bringing a new recording in: copy it, pre-fill its label file, register the site.

Replaces the field's notebook steps (aws s3 cp, hand-made folders, hand-edited lists); the
command `python -m obstacles.commands.add_recording` then versions it with `dvc add data`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from obstacles.io.bad_inputs import BadInputs
from obstacles.io.images import ImageLimits
from obstacles.io.label_file import label_name_problem
from obstacles.io.outputs import atomic_dir, inside, longest_partial_name, write_csv
from obstacles.io.recording import IMAGES_DIR, JSON_DIR, JsonLimits, scan_recording
from obstacles.lineage.names import LABEL_HEADER, NO_OBSTACLE, OBSTACLE, SKIP
from obstacles.lineage.sites import register_site, validate_site_id
from obstacles.lineage.triage import TriageCutoffs


@dataclass(frozen=True)
class Triage:
    """How the src stage reads and classes a recording (conf/pipeline.yaml `recording`, `src`):
    the pre-filled label rows are then exactly the frames it keeps."""

    score_field: str
    panels: int
    cutoffs: TriageCutoffs
    limits: ImageLimits
    json_limits: JsonLimits


@dataclass(frozen=True)
class AddedRecording:
    """What add_recording made: the recording's folder, its label file and rows, the skipped files."""

    site: str
    recording: Path
    labels: Path
    rows: list[tuple]
    bad: BadInputs

    @property
    def counts(self) -> dict[str, int]:
        return {label: sum(r[1] == label for r in self.rows) for label in (OBSTACLE, NO_OBSTACLE, SKIP)}


class RecordingLinkError(ValueError):
    """A local recording holding links that leave it (or loop, or lead nowhere): nothing is copied."""


def bad_links(folder: Path, subfolders: tuple[str, ...] = (IMAGES_DIR, JSON_DIR)) -> list[str]:
    """`<link> -> <target>: why` for every symbolic link in `folder`'s subfolders (and each
    subfolder itself) that a copy must not follow: one leaving the folder (a file or a whole folder
    from elsewhere, credentials included, would otherwise land in data/, the DVC cache and the S3
    remote under the recording's name), one to nothing, and a folder link to its own ancestor (the
    copy would never end). Links that stay inside are copied as the files they name. Checked before
    anything is copied: an after-the-fact check on the copy sees plain files only."""
    top = Path(os.path.realpath(folder))
    links = [folder / sub for sub in subfolders if (folder / sub).is_symlink()]
    for sub in subfolders:
        for here, dirs, files in os.walk(folder / sub, followlinks=False):
            links.extend(Path(here) / name for name in sorted(dirs + files) if (Path(here) / name).is_symlink())
    found = []
    for link in links:
        target = Path(os.path.realpath(link))
        shown = f"{link.relative_to(folder)} -> {os.readlink(link)}"
        if not inside(target, top):
            found.append(f"{shown}: a link that leaves the recording")
        elif not target.exists():
            found.append(f"{shown}: a link to nothing")
        elif target.is_dir() and inside(link.parent, target):
            found.append(f"{shown}: a folder link to its own parent (a loop)")
    return found


def fetch(source: str, target: Path, endpoint_url: str | None) -> None:
    """Copy images/ and json/ of a local folder or an S3 prefix into target (never touching the
    source). A local folder with links that leave it is refused, each named, before any copy."""
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
        links = bad_links(folder)
        if links:
            raise RecordingLinkError(
                f"{folder}: {len(links)} symbolic link(s) refused, nothing copied (copy the files they "
                "name into the recording, or leave them out):\n  " + "\n  ".join(links)
            )
        for sub in (IMAGES_DIR, JSON_DIR):
            shutil.copytree(folder / sub, target / sub, symlinks=False)
    escaped = [p for p in target.rglob("*") if not inside(p, target)]
    if escaped:
        raise ValueError(f"{source} holds paths that leave the recording: {escaped[:3]}")


def prefill_labels(recording: Path, triage: Triage) -> tuple[list[tuple], BadInputs]:
    """Label rows from the deployed score (the reviewer starts from the model's opinion), for the
    frames triage will keep: a file it rejects gets no row, and neither does a name the label
    file's own reader would refuse or read back differently, so `dvc repro` needs no hand edit."""
    bad = BadInputs("skip", root=recording)
    frames = scan_recording(recording, triage.score_field, int(triage.panels), bad, triage.limits, triage.json_limits)
    rows = []
    for frame in frames:
        problem = label_name_problem(frame.name)
        if problem:
            bad.add(frame.path, problem)
        else:
            rows.append((frame.name, triage.cutoffs.prefill_label(frame.score), ""))
    return rows, bad


def check_name_lengths(site: str, folders: dict[str, Path]) -> None:
    """ValueError unless every name the site id becomes (and the hidden names its outputs are built
    under) fits the file system: found before anything is written, not as a raw OSError halfway."""
    for name, folder in folders.items():
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        limit = os.pathconf(existing, "PC_NAME_MAX")
        longest = longest_partial_name(name)
        if len(longest.encode()) > limit:
            overhead = len(longest.encode()) - len(site.encode())
            raise ValueError(
                f"site id of {len(site)} characters is too long: {folder / name} (and the hidden "
                f"{longest[: len(longest) - len(name) - 1]}... names it is built under) would exceed "
                f"the file system's {limit}-byte name limit; use at most {limit - overhead} characters"
            )


@contextmanager
def restored_on_failure(files: list[Path]) -> Iterator[None]:
    """Put the files back as they were (or absent) if the block fails: registration edits three
    files, and a half-registered site would block every later `dvc repro`."""
    before = {path: path.read_bytes() if path.exists() else None for path in files}
    try:
        yield
    except BaseException:
        for path, data in before.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        raise


def add_recording(
    site: str,
    source: str,
    *,
    root: Path,
    recordings_dir: Path,
    labels_dir: Path,
    triage: Triage,
    pixel_threshold: float,
    note: str = "",
    endpoint_url: str | None = None,
) -> AddedRecording:
    """Copy `source` (a folder or s3://bucket/prefix) to recordings_dir/<site>, write its pre-filled
    label file and register the site in the project at root: all or nothing.

    Refuses before writing anything when the site id is malformed or too long for the file system,
    or the recording or its label file (a reviewer's work) exists. The copy is built, and every
    name and JSON in it checked (bounded in size and depth), in a hidden folder that becomes the
    recording only when the label rows are known; the site is registered last. A failure at any
    step removes what the earlier ones made, so a retry meets nothing in its way."""
    site = validate_site_id(site)
    recording = Path(recordings_dir) / site
    labels = Path(labels_dir) / f"{site}.csv"
    site_conf = Path(root) / "conf" / "site"
    check_name_lengths(site, {site: Path(recordings_dir), f"{site}.csv": Path(labels_dir), f"{site}.yaml": site_conf})
    if recording.exists() and any(recording.iterdir()):
        raise FileExistsError(f"{recording} already exists: choose a new <site>_<yyyymm>_<seq>")
    if labels.exists():
        raise FileExistsError(f"{labels} already exists: it may hold a reviewer's work; move it away first")
    registry = [site_conf / f"{site}.yaml", Path(root) / "conf" / "sites.yaml", Path(root) / "dvc.yaml"]
    with atomic_dir(recording) as staging:
        fetch(source, staging, endpoint_url)
        rows, bad = prefill_labels(staging, triage)
    try:
        with restored_on_failure([labels, *registry]):
            write_csv(labels, LABEL_HEADER, rows)
            register_site(root, site, pixel_threshold, note=note)
    except BaseException:
        shutil.rmtree(recording, ignore_errors=True)
        raise
    return AddedRecording(site, recording, labels, rows, bad)
