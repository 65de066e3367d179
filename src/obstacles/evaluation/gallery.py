"""The field's error galleries: FN and FP images per threshold, copied with their score, and one
self-contained HTML contact sheet per threshold (`obstacles.io.html.contact_sheet`, the pages'
one builder: relative links only, so the folder can be zipped, synced or opened from a DVC cache
checkout anywhere).

Layout: `galleries/t0.50/{false_negative,false_positive}/0.912__<name>.jpg` and
`galleries/t0.50/index.html`; the most wrongly scored images come first.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from obstacles.evaluation.report import threshold_tag
from obstacles.io.html import Card, Sheet, contact_sheet, escape, fragment_link, write_page
from obstacles.io.manifests import resolve
from obstacles.lineage.names import NO_OBSTACLE, OBSTACLE

GALLERIES_DIR = "galleries"
INDEX_FILE = "index.html"
FALSE_NEGATIVE = "false_negative"
FALSE_POSITIVE = "false_positive"
KIND_TITLES = {
    FALSE_NEGATIVE: "False negatives: obstacle, score <= {t}",
    FALSE_POSITIVE: "False positives: no_obstacle, score > {t}",
}


@dataclass(frozen=True)
class Gallery:
    """One threshold's error images: per kind, the rows (most wrong first) and their file names."""

    threshold: float
    errors: dict[str, pd.DataFrame]  # kind -> rows with a `file` column, relative to `relative_dir`

    @property
    def relative_dir(self) -> str:
        """The gallery's folder inside the evaluation folder."""
        return f"{GALLERIES_DIR}/{threshold_tag(self.threshold)}"


def errors_at(predictions: pd.DataFrame, threshold: float) -> dict[str, pd.DataFrame]:
    """FN (lowest score first) and FP (highest score first): sorted by how wrong the score is."""
    ordered = predictions.sort_values(["score", "path"], kind="stable")
    is_obstacle = ordered["label"] == OBSTACLE
    false_negative = ordered[is_obstacle & (ordered["score"] <= threshold)]
    false_positive = ordered[(ordered["label"] == NO_OBSTACLE) & (ordered["score"] > threshold)]
    return {FALSE_NEGATIVE: false_negative, FALSE_POSITIVE: false_positive.iloc[::-1]}


def file_names(rows: pd.DataFrame, decimals: int) -> list[str]:
    """`<score>__<image name>`; images sharing a name (other folders) get their flattened path."""
    prefixes = [f"{score:.{decimals}f}__" for score in rows["score"]]
    names = [prefix + PurePosixPath(path).name for prefix, path in zip(prefixes, rows["path"])]
    taken = Counter(names)
    return [
        name if taken[name] == 1 else prefix + path.replace("/", "__")
        for name, prefix, path in zip(names, prefixes, rows["path"])
    ]


def copy_errors(root: Path, folder: Path, rows: pd.DataFrame, kind: str, decimals: int) -> pd.DataFrame:
    """Copy the rows' images into `folder/kind/`; the rows with their relative `file`."""
    (folder / kind).mkdir(parents=True, exist_ok=True)
    files = [f"{kind}/{name}" for name in file_names(rows, decimals)]
    for path, file in zip(rows["path"], files):
        shutil.copyfile(resolve(root, path), folder / file)  # path: a checked manifest path
    return rows.assign(file=files)


def error_card(row, folder: Path, decimals: int) -> Card:
    return Card(folder / row.file, [f"{row.score:.{decimals}f} {row.label} \u00b7 {row.site}", row.path])


def sheet_html(gallery: Gallery, folder: Path, decimals: int) -> str:
    """The page body: both kinds, each sorted by how wrong the score is, with label, score, site, path."""
    t = f"{gallery.threshold:g}"
    counts = ", ".join(
        fragment_link(kind, f"{len(rows)} {kind.replace('_', ' ')}") for kind, rows in gallery.errors.items()
    )
    intro = f"<p>Predicted obstacle iff score &gt; {escape(t)}. {counts}. Most wrongly scored first.</p>"
    sheets = [
        Sheet(
            f"{KIND_TITLES[kind].format(t=t)} ({len(rows)})",
            [error_card(row, folder, decimals) for row in rows.itertuples(index=False)],
            anchor=kind,
        )
        for kind, rows in gallery.errors.items()
    ]
    return contact_sheet(sheets, folder, intro=intro, separator="\n")


def write_gallery(
    out_dir: Path,
    root: Path,
    predictions: pd.DataFrame,
    threshold: float,
    *,
    title: str,
    decimals: int,
    thumb_width: int,
) -> Gallery:
    """`galleries/<tag>/` for one threshold: the FN and FP images and their contact sheet."""
    folder = out_dir / GALLERIES_DIR / threshold_tag(threshold)
    errors = {
        kind: copy_errors(root, folder, rows, kind, decimals)
        for kind, rows in errors_at(predictions, threshold).items()
    }
    gallery = Gallery(threshold, errors)
    page_title = f"{title}: errors at threshold {threshold:g}"
    write_page(folder / INDEX_FILE, page_title, sheet_html(gallery, folder, decimals), thumb_width=thumb_width)
    return gallery
