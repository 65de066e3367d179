"""Similarity search: which images of a folder look like this one (or these ones)?

    python -m obstacles.commands.similar image=<file or folder> search_dir=<folder> out_dir=<folder> sim_thresh=0.9

Typical use: a false prediction is suspected to come from a similar image in the wrong class
folder. Similarity is 1 - cosine distance of the embeddings after `center` (conf/similar.yaml):
`search_set` (default) subtracts the searched images' mean unit embedding first, so the scene
every frame of a fixed camera shares does not make everything similar; `none` compares the raw
features (`obstacles.curation.similarity`). Output, in `<out_dir>/<search_dir name>/<sim_thresh>/`:

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

import numpy as np
from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.curation.embedding import Embedded, embed_files, input_spec, make_embedder
from obstacles.curation.images import image_files, list_images
from obstacles.curation.similarity import CENTERS, centered_similarity
from obstacles.io.html import figure, section, write_page
from obstacles.io.outputs import atomic_dir, inside, write_csv

SCORES_NAME = "scores.csv"
SKIPPED_NAME = "skipped.csv"
SHEET_NAME = "index.html"


@dataclass(frozen=True)
class Match:
    candidate: Path
    similarity: float
    copy: str  # relative to the output folder; "" below the threshold


def threshold_name(sim_thresh: float) -> str:
    return format(float(sim_thresh), "g")


def output_folder(cfg: DictConfig) -> Path:
    return Path(cfg.out_dir) / Path(cfg.search_dir).resolve().name / threshold_name(cfg.sim_thresh)


def check_folders(cfg: DictConfig) -> None:
    """Refuse outputs that would be searched again, or a replaced output that holds the inputs."""
    search_dir, query = Path(cfg.search_dir), Path(cfg.image)
    if not search_dir.is_dir():
        raise FileNotFoundError(f"search_dir {search_dir}: no such folder")
    out = output_folder(cfg)
    for role, folder in (("search_dir", search_dir), ("image", query)):
        if folder.is_dir() and inside(cfg.out_dir, folder):
            raise ValueError(f"out_dir {cfg.out_dir} is inside {role} {folder}: the copies would be searched next time")
        if inside(folder, out):
            raise ValueError(f"{role} {folder} is inside the output folder {out}, which is replaced on every run")
    if not -1.0 <= float(cfg.sim_thresh) <= 1.0:
        raise ValueError(f"sim_thresh={cfg.sim_thresh}: a similarity (1 - cosine distance) is in [-1, 1]")
    if cfg.center not in CENTERS:
        raise ValueError(f"center={cfg.center!r}: use one of {', '.join(CENTERS)}")


def centering(cfg: DictConfig, candidates: int) -> str:
    """The configured `center`, except for a search set too small for its mean to stand for the
    scene (it would mostly be the images themselves): then none."""
    return cfg.center if candidates >= cfg.center_min_images else "none"


def query_subfolder(query: Path, query_root: Path) -> Path:
    """Where a query's matches go: directly in the output folder for a single query file."""
    if query_root.is_file():
        return Path()
    return query.relative_to(query_root).with_suffix("")


def copy_name(candidate: Path, search_dir: Path, similarity: float, decimals: int) -> Path:
    """`<subfolders>/<stem>_<similarity><suffix>`, the candidate's place in search_dir kept."""
    relative = candidate.relative_to(search_dir)
    return relative.with_name(f"{relative.stem}_{similarity:.{decimals}f}{relative.suffix}")


def rank_matches(cfg: DictConfig, queries: Embedded, candidates: Embedded, center: str) -> dict[Path, list[Match]]:
    """Every candidate per query, best first; copies named for those at or above sim_thresh."""
    sims = centered_similarity(queries.vectors, candidates.vectors, center)
    search_dir, query_root = Path(cfg.search_dir), Path(cfg.image)
    resolved = [p.resolve() for p in candidates.paths]
    ranked = {}
    for row, query in enumerate(queries.paths):
        matches = []
        subfolder, query_path = query_subfolder(query, query_root), query.resolve()
        for col in np.argsort(-sims[row], kind="stable"):
            candidate, similarity = candidates.paths[col], float(sims[row, col])
            if resolved[col] == query_path:
                continue  # a query inside search_dir is not its own match
            above = similarity >= cfg.sim_thresh
            name = subfolder / copy_name(candidate, search_dir, similarity, cfg.sim_decimals) if above else ""
            matches.append(Match(candidate, similarity, str(name)))
        ranked[query] = matches
    return ranked


def contact_sheet(cfg: DictConfig, ranked: dict[Path, list[Match]], page_dir: Path) -> str:
    """One section per query: the query (linked to the original), then its copies best first,
    captioned with the similarity and their place in search_dir."""
    search_dir = Path(cfg.search_dir)
    parts = []
    for query, matches in ranked.items():
        shown = [m for m in matches if m.copy][: cfg.sheet.max_per_query]
        cards = [figure(query, page_dir, ["query", query.name], "query")]
        for match in shown:
            place = match.candidate.relative_to(search_dir).as_posix()
            cards.append(figure(page_dir / match.copy, page_dir, [f"{match.similarity:.4f}", place]))
        above = sum(bool(m.copy) for m in matches)
        note = f"{above} of {len(matches)} images at or above {cfg.sim_thresh}" + (
            f" (first {len(shown)} shown)" if len(shown) < above else ""
        )
        parts.append(section(str(query), f'<div class="sheet">{"".join(cards)}</div>', note))
    return "".join(parts)


def write_results(cfg: DictConfig, ranked: dict[Path, list[Match]], skipped: list[tuple[Path, str]]) -> Path:
    final = output_folder(cfg)
    with atomic_dir(final) as out:
        for matches in ranked.values():
            for match in (m for m in matches if m.copy):
                (out / match.copy).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(match.candidate, out / match.copy)
        rows = [(q, m.candidate, f"{m.similarity:.6f}", m.copy) for q, ms in ranked.items() for m in ms]
        write_csv(out / SCORES_NAME, ("query", "candidate", "similarity", "copy"), rows)
        write_csv(out / SKIPPED_NAME, ("file", "reason"), sorted((str(p), r) for p, r in skipped))
        title = f"Images like {Path(cfg.image).name} in {cfg.search_dir} (similarity >= {cfg.sim_thresh})"
        write_page(out / SHEET_NAME, title, contact_sheet(cfg, ranked, final), thumb_height=cfg.sheet.thumb_height)
    return final


def run(cfg: DictConfig) -> Path:
    check_folders(cfg)
    query_files = image_files(cfg.image, "image")
    search_files = list_images(cfg.search_dir)
    if not search_files:
        raise ValueError(f"search_dir {cfg.search_dir}: no images in this folder")
    embedder, what = make_embedder(cfg, cfg.paths.experiments_dir)
    spec = input_spec(cfg, embedder)
    common = {"cache_dir": cfg.cache_dir, "batch_size": cfg.batch_size}
    queries = embed_files(query_files, embedder, spec, desc="queries", **common)
    if not queries.paths:
        raise ValueError(f"image {cfg.image}: no readable image ({queries.skipped[0][1]})")
    candidates = embed_files(search_files, embedder, spec, desc=f"embed {cfg.search_dir}", **common)
    if not candidates.paths:
        raise ValueError(f"search_dir {cfg.search_dir}: none of {len(search_files)} images is readable")
    center = centering(cfg, len(candidates.paths))
    ranked = rank_matches(cfg, queries, candidates, center)
    skipped = queries.skipped + candidates.skipped
    out = write_results(cfg, ranked, skipped)
    copies = sum(bool(m.copy) for ms in ranked.values() for m in ms)
    print(
        f"[similar] {len(queries.paths)} query image(s) against {len(candidates.paths)} images ({what}; "
        f"{queries.computed + candidates.computed} embedded, the rest cached): {copies} at or above "
        f"{cfg.sim_thresh} (center={center}) copied to {out}"
        + (f"; {len(skipped)} unreadable, see {SKIPPED_NAME}" if skipped else "")
    )
    if center != cfg.center:
        print(
            f"[similar] center={cfg.center} needs center_min_images={cfg.center_min_images} searched images, "
            f"{len(candidates.paths)} found: similarities are not centred"
        )
    return out


main = entry_point("similar", run)

if __name__ == "__main__":
    main()
