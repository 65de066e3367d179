"""Similarity search: which images of a folder look like this one (or these ones)?

Typical use: a false prediction is suspected to come from a similar image in the wrong class
folder. Similarity is 1 - cosine distance of the embeddings after `center`: `search_set`
subtracts the searched images' mean unit embedding first, so the scene every frame of a fixed
camera shares does not make everything similar; `none` compares the raw features
(`obstacles.curation.similarity`). Output, in `<out_dir>/<search_dir name>/<sim_thresh>/`:

- one query file: the matches themselves, `<stem>_<similarity>.<ext>`, in the subfolders
  they have in search_dir (so the class folder of each match stays visible);
- a folder of queries: the same, one subfolder per query (its path without the suffix);
- `scores.csv`: every (query, candidate) similarity, best first per query;
- `index.html`: the contact sheet, queries with their matches ranked by similarity;
- `skipped.csv`: unreadable images, with the reason.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from obstacles.curation.embedding import Embedded, Embedder, embed_files, input_spec
from obstacles.curation.images import image_files, list_images
from obstacles.curation.similarity import CENTERS, centered_similarity
from obstacles.io.html import Card, Sheet, SheetLayout, contact_sheet, write_page
from obstacles.io.outputs import atomic_dir, inside, write_csv

SCORES_NAME = "scores.csv"
SKIPPED_NAME = "skipped.csv"
SHEET_NAME = "index.html"


@dataclass(frozen=True)
class Inputs:
    """How image files become model inputs (conf/similar.yaml: panels, panel_size, pixel_threshold)."""

    panels: int | None  # 2 or 3; None: from the aspect ratio
    panel_size: int | None  # None: the embedder's own (a checkpoint's training size), else as stored
    pixel_threshold: float  # diff-mask threshold, used by 7-channel models only


@dataclass(frozen=True)
class Match:
    candidate: Path
    similarity: float
    copy: str  # relative to the output folder; "" below the threshold


@dataclass(frozen=True)
class SearchResult:
    """What a search did, for the caller's summary line."""

    out: Path
    embedder: str  # the embedder's description
    queries: int
    candidates: int
    computed: int  # images embedded (the rest came from the cache)
    copies: int
    sim_thresh: float
    center: str  # the centring asked for
    used_center: str  # the one used: none for a search set below center_min_images
    center_min_images: int
    skipped: int

    def summary(self) -> list[str]:
        """The lines a command prints: what was searched, how, and where the matches went."""
        lines = [
            f"{self.queries} query image(s) against {self.candidates} images ({self.embedder}; "
            f"{self.computed} embedded, the rest cached): {self.copies} at or above "
            f"{self.sim_thresh} (center={self.used_center}) copied to {self.out}"
            + (f"; {self.skipped} unreadable, see {SKIPPED_NAME}" if self.skipped else "")
        ]
        if self.used_center != self.center:
            lines.append(
                f"center={self.center} needs center_min_images={self.center_min_images} searched images, "
                f"{self.candidates} found: similarities are not centred"
            )
        return lines


def threshold_name(sim_thresh: float) -> str:
    return format(float(sim_thresh), "g")


def output_folder(out_dir: str | Path, search_dir: str | Path, sim_thresh: float) -> Path:
    return Path(out_dir) / Path(search_dir).resolve().name / threshold_name(sim_thresh)


def check_folders(
    image: str | Path, search_dir: str | Path, out_dir: str | Path, sim_thresh: float, center: str
) -> None:
    """Refuse outputs that would be searched again, or a replaced output that holds the inputs."""
    search_dir, query = Path(search_dir), Path(image)
    if not search_dir.is_dir():
        raise FileNotFoundError(f"search_dir {search_dir}: no such folder")
    out = output_folder(out_dir, search_dir, sim_thresh)
    for role, folder in (("search_dir", search_dir), ("image", query)):
        if folder.is_dir() and inside(out_dir, folder):
            raise ValueError(f"out_dir {out_dir} is inside {role} {folder}: the copies would be searched next time")
        if inside(folder, out):
            raise ValueError(f"{role} {folder} is inside the output folder {out}, which is replaced on every run")
    if not -1.0 <= float(sim_thresh) <= 1.0:
        raise ValueError(f"sim_thresh={sim_thresh}: a similarity (1 - cosine distance) is in [-1, 1]")
    if center not in CENTERS:
        raise ValueError(f"center={center!r}: use one of {', '.join(CENTERS)}")


def centering(center: str, center_min_images: int, candidates: int) -> str:
    """The configured `center`, except for a search set too small for its mean to stand for the
    scene (it would mostly be the images themselves): then none."""
    return center if candidates >= center_min_images else "none"


def query_subfolder(query: Path, query_root: Path) -> Path:
    """Where a query's matches go: directly in the output folder for a single query file."""
    if query_root.is_file():
        return Path()
    return query.relative_to(query_root).with_suffix("")


def copy_name(candidate: Path, search_dir: Path, similarity: float, decimals: int) -> Path:
    """`<subfolders>/<stem>_<similarity><suffix>`, the candidate's place in search_dir kept."""
    relative = candidate.relative_to(search_dir)
    return relative.with_name(f"{relative.stem}_{similarity:.{decimals}f}{relative.suffix}")


def rank_matches(
    queries: Embedded,
    candidates: Embedded,
    *,
    query_root: str | Path,
    search_dir: str | Path,
    sim_thresh: float,
    center: str,
    decimals: int,
) -> dict[Path, list[Match]]:
    """Every candidate per query, best first; copies named for those at or above sim_thresh."""
    sims = centered_similarity(queries.vectors, candidates.vectors, center)
    search_dir, query_root = Path(search_dir), Path(query_root)
    resolved = [p.resolve() for p in candidates.paths]
    ranked = {}
    for row, query in enumerate(queries.paths):
        matches = []
        subfolder, query_path = query_subfolder(query, query_root), query.resolve()
        for col in np.argsort(-sims[row], kind="stable"):
            candidate, similarity = candidates.paths[col], float(sims[row, col])
            if resolved[col] == query_path:
                continue  # a query inside search_dir is not its own match
            above = similarity >= sim_thresh
            name = subfolder / copy_name(candidate, search_dir, similarity, decimals) if above else ""
            matches.append(Match(candidate, similarity, str(name)))
        ranked[query] = matches
    return ranked


def query_sheets(
    ranked: dict[Path, list[Match]], page_dir: Path, search_dir: Path, sim_thresh: float, max_per_query: int
) -> list[Sheet]:
    """One sheet per query: the query (linked to the original), then its copies best first,
    captioned with the similarity and their place in search_dir."""
    sheets = []
    for query, matches in ranked.items():
        shown = [m for m in matches if m.copy][:max_per_query]
        cards = [Card(query, ["query", query.name], "query")]
        for match in shown:
            place = match.candidate.relative_to(search_dir).as_posix()
            cards.append(Card(page_dir / match.copy, [f"{match.similarity:.4f}", place]))
        above = sum(bool(m.copy) for m in matches)
        note = f"{above} of {len(matches)} images at or above {sim_thresh}" + (
            f" (first {len(shown)} shown)" if len(shown) < above else ""
        )
        sheets.append(Sheet(str(query), cards, note))
    return sheets


def write_results(
    final: Path,
    ranked: dict[Path, list[Match]],
    skipped: list[tuple[Path, str]],
    *,
    title: str,
    search_dir: Path,
    sim_thresh: float,
    sheet: SheetLayout,
) -> Path:
    """The copies, scores.csv, skipped.csv and index.html, replacing `final` as a whole."""
    with atomic_dir(final) as out:
        for matches in ranked.values():
            for match in (m for m in matches if m.copy):
                (out / match.copy).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(match.candidate, out / match.copy)
        rows = [(q, m.candidate, f"{m.similarity:.6f}", m.copy) for q, ms in ranked.items() for m in ms]
        write_csv(out / SCORES_NAME, ("query", "candidate", "similarity", "copy"), rows)
        write_csv(out / SKIPPED_NAME, ("file", "reason"), sorted((str(p), r) for p, r in skipped))
        sheets = query_sheets(ranked, final, search_dir, sim_thresh, sheet.max_shown)
        write_page(out / SHEET_NAME, title, contact_sheet(sheets, final), thumb_height=sheet.thumb_height)
    return final


def search(
    image: str | Path,
    search_dir: str | Path,
    out_dir: str | Path,
    load_embedder: Callable[[], Embedder],
    *,
    sim_thresh: float,
    center: str,
    center_min_images: int,
    inputs: Inputs,
    cache_dir: str | Path | None,
    batch_size: int,
    sim_decimals: int,
    sheet: SheetLayout,
) -> SearchResult:
    """Embed the query file (or folder) and every image below search_dir, rank all pairs, and write
    the matches at or above sim_thresh with their scores and contact sheet (module docstring).
    load_embedder is called once the inputs are checked, so a wrong path fails before a model loads."""
    check_folders(image, search_dir, out_dir, sim_thresh, center)
    query_files = image_files(image, "image")
    search_files = list_images(search_dir)
    if not search_files:
        raise ValueError(f"search_dir {search_dir}: no images in this folder")
    embedder = load_embedder()
    spec = input_spec(
        embedder, panels=inputs.panels, panel_size=inputs.panel_size, pixel_threshold=inputs.pixel_threshold
    )
    common = {"cache_dir": cache_dir, "batch_size": batch_size}
    queries = embed_files(query_files, embedder, spec, desc="queries", **common)
    if not queries.paths:
        raise ValueError(f"image {image}: no readable image ({queries.skipped[0][1]})")
    candidates = embed_files(search_files, embedder, spec, desc=f"embed {search_dir}", **common)
    if not candidates.paths:
        raise ValueError(f"search_dir {search_dir}: none of {len(search_files)} images is readable")
    used = centering(center, center_min_images, len(candidates.paths))
    ranked = rank_matches(
        queries,
        candidates,
        query_root=image,
        search_dir=search_dir,
        sim_thresh=sim_thresh,
        center=used,
        decimals=sim_decimals,
    )
    skipped = queries.skipped + candidates.skipped
    out = write_results(
        output_folder(out_dir, search_dir, sim_thresh),
        ranked,
        skipped,
        title=f"Images like {Path(image).name} in {search_dir} (similarity >= {sim_thresh})",
        search_dir=Path(search_dir),
        sim_thresh=sim_thresh,
        sheet=sheet,
    )
    return SearchResult(
        out=out,
        embedder=embedder.description,
        queries=len(queries.paths),
        candidates=len(candidates.paths),
        computed=queries.computed + candidates.computed,
        copies=sum(bool(m.copy) for ms in ranked.values() for m in ms),
        sim_thresh=sim_thresh,
        center=center,
        used_center=used,
        center_min_images=center_min_images,
        skipped=len(skipped),
    )
