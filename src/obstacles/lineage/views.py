"""The field's browsable folders over a derivative's manifest, on demand:

    balanced    views/<dataset>/sites/<site>/<label>/<image>, views/<dataset>/<split>/<label>/<site>__<image>
    src         views/<site>/src/<class>/<band>/<image>
    mask_train  views/<site>/mask_train/{obstacle,no_obstacle,opposite}/<image>
    split       views/<site>/split/<split>/<label>/<image>

Hard links (a copy across file systems) to the files the manifest names. A view is built whole in a
hidden folder and renamed into place, so a killed run leaves no half view; it is not versioned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

from tqdm import tqdm

from obstacles.io.manifests import ManifestError, read_rows, resolve
from obstacles.io.outputs import atomic_dir, link_or_copy
from obstacles.lineage.names import (
    INDEX_COLUMNS,
    INDEX_NAME,
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    MASK_TRAIN_COLUMNS,
    MASK_TRAIN_TABLE,
    OPPOSITE,
    SITE_SEPARATOR,
    SITES_VIEW_DIR,
    SKIP,
    SPLIT_COLUMNS,
    SPLIT_TABLE,
    SRC_DIR,
)

Entry = tuple[tuple[str, ...], str]  # (folder names and file name inside the view, project-relative source)
PROGRESS_FROM = 1000  # files: a progress bar for views this big


def balanced_entries(row: dict) -> Iterator[Entry]:
    image = row["path"].rsplit("/", 1)[-1]
    yield (SITES_VIEW_DIR, row["site"], row["label"], image), row["path"]
    yield (row["split"], row["label"], f"{row['site']}{SITE_SEPARATOR}{image}"), row["path"]


def src_entries(row: dict) -> Iterator[Entry]:
    yield (row["class"], row["band"], row["image"]), row["path"]


def mask_train_entries(row: dict) -> Iterator[Entry]:
    if row["label"] != SKIP:
        yield (row["label"], row["image"]), row["path"]
    if row["opposite_label"]:
        yield (OPPOSITE, row["image"]), row["path"]


def split_entries(row: dict) -> Iterator[Entry]:
    yield (row["split"], row["label"], row["image"]), row["path"]


@dataclass(frozen=True)
class View:
    """One derivative's view: its manifest (and columns), how rows become entries, where it goes.

    Its owner is the merged dataset (`per_site` False: datasets/<dataset>/ -> views/<dataset>/) or a
    site (datasets/<site>/<table> -> views/<site>/<subfolder>/)."""

    table: PurePath  # the manifest, inside the owner's folder under datasets/
    columns: tuple[str, ...]
    entries: Callable[[dict], Iterator[Entry]]
    subfolder: str | None = None  # inside views/<owner>/; None: views/<owner>/ itself

    @property
    def per_site(self) -> bool:
        return self.subfolder is not None

    def manifest(self, owner_dir: Path) -> Path:
        return Path(owner_dir) / self.table

    def folder(self, out_dir: Path, owner: str) -> Path:
        folder = Path(out_dir) / owner
        return folder / self.subfolder if self.subfolder else folder


VIEWS = {
    "balanced": View(PurePath(MANIFEST_NAME), MANIFEST_COLUMNS, balanced_entries),
    "src": View(PurePath(SRC_DIR, INDEX_NAME), INDEX_COLUMNS, src_entries, "src"),
    "mask_train": View(PurePath(MASK_TRAIN_TABLE), MASK_TRAIN_COLUMNS, mask_train_entries, "mask_train"),
    "split": View(PurePath(SPLIT_TABLE), SPLIT_COLUMNS, split_entries, "split"),
}


def check_parts(parts: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Every folder and file name a plain name: a manifest value cannot place a link outside the view."""
    for part in parts:
        if not part or part in (".", "..") or "/" in part or "\\" in part or "\0" in part:
            raise ManifestError(
                f"{where}: {part!r} is not a plain folder or file name; the view would leave its folder"
            )
    return parts


def write_view(view: View, manifest: Path, final: Path, root: Path) -> int:
    """Lay the manifest's files out under `final` (replaced whole); the number of links made."""
    jobs, folders = [], set()
    for line, row in read_rows(manifest, view.columns):
        for parts, source in view.entries(row):
            check_parts(parts, f"{manifest}:{line}")
            jobs.append((resolve(root, source, f"{manifest}:{line}"), parts))
            folders.add(parts[:-1])
    missing = [source for source, _ in jobs if not Path(source).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{manifest}: {len(missing)} file(s) it names are missing, first {missing[:3]} (dvc pull, or dvc repro)"
        )
    with atomic_dir(final) as out:
        for folder in sorted(folders):
            out.joinpath(*folder).mkdir(parents=True, exist_ok=True)
        for source, parts in tqdm(
            jobs, desc=f"folder_view {final.name}", unit="file", disable=len(jobs) < PROGRESS_FROM
        ):
            link_or_copy(source, out.joinpath(*parts))  # a metadata write each: no pool needed
    return len(jobs)
