"""The field's browsable folders over a derivative's manifest, on demand (`conf/folder_view.yaml`):

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
from pathlib import Path

from omegaconf import DictConfig
from tqdm import tqdm

from obstacles.config import entry_point
from obstacles.io.manifests import ManifestError, read_rows, resolve
from obstacles.io.outputs import atomic_dir, link_or_copy
from obstacles.lineage import (
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
from obstacles.stages.common import site_dir, site_name

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
    """One derivative's view: its manifest (and columns), how rows become entries, where it goes."""

    manifest: Callable[[DictConfig], Path]
    columns: tuple[str, ...]
    entries: Callable[[dict], Iterator[Entry]]
    folder: Callable[[DictConfig], Path]


VIEWS = {
    "balanced": View(
        lambda cfg: Path(cfg.dataset.dir) / MANIFEST_NAME,
        MANIFEST_COLUMNS,
        balanced_entries,
        lambda cfg: Path(cfg.out_dir) / str(cfg.dataset.name),
    ),
    "src": View(
        lambda cfg: site_dir(cfg) / SRC_DIR / INDEX_NAME,
        INDEX_COLUMNS,
        src_entries,
        lambda cfg: Path(cfg.out_dir) / site_name(cfg) / "src",
    ),
    "mask_train": View(
        lambda cfg: site_dir(cfg) / MASK_TRAIN_TABLE,
        MASK_TRAIN_COLUMNS,
        mask_train_entries,
        lambda cfg: Path(cfg.out_dir) / site_name(cfg) / "mask_train",
    ),
    "split": View(
        lambda cfg: site_dir(cfg) / SPLIT_TABLE,
        SPLIT_COLUMNS,
        split_entries,
        lambda cfg: Path(cfg.out_dir) / site_name(cfg) / "split",
    ),
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
            jobs.append((resolve(root, source), parts))
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


def run(cfg: DictConfig) -> Path:
    view = str(cfg.view)
    if view not in VIEWS:
        raise SystemExit(f"view={view!r}: choose one of {', '.join(VIEWS)}")
    spec = VIEWS[view]
    manifest, final = spec.manifest(cfg), spec.folder(cfg)
    count = write_view(spec, manifest, final, Path(cfg.paths.root_dir))
    print(f"[folder_view {view}] {count} file(s) linked under {final} (from {manifest}; not versioned)")
    return final


main = entry_point("folder_view", run)

if __name__ == "__main__":
    main()
