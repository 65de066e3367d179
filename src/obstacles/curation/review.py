"""A static review page for one site's triage.

Replaces hand-copying images between folders: the page shows every image of the site's triage
(`datasets/<site>/src/index.csv`: deployed score, class, band; the images are the recording's
own) and the reviewer labels it with keys; "Export" downloads `<site>.csv` in the label-file
format the mask_train stage reads (`image,label,opposite_label`), to be saved as
`labels/<site>.csv`. Labels start from that file when it exists (rows for images triage rejected
are dropped, with a warning), otherwise from the deployed score with the pipeline's triage
cut-offs. No server: inline script and style, images linked relatively, so the page opens from disk.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from obstacles.io.html import escape, relative_url, script_json
from obstacles.io.label_file import Pick, read_label_file
from obstacles.io.manifests import read_rows, resolve
from obstacles.io.outputs import write_text_atomic
from obstacles.lineage import INDEX_COLUMNS, INDEX_NAME, TriageCutoffs

PAGE_NAME = "index.html"
PANEL_NAMES = ("reference", "current", "mask")
TEMPLATES = ("obstacles.curation", "templates")


@dataclass(frozen=True)
class PageSettings:
    """What the page's script is given besides the images (conf/review.yaml)."""

    panels: int  # of each recorded image: [reference | current | mask]
    shortcuts: dict  # action -> KeyboardEvent.key value(s)
    advance_on_label: bool
    view_height: int  # pixels
    thumb_height: int  # pixels


@dataclass(frozen=True)
class ReviewPage:
    """The written page and what its labels started from, for the caller's summary."""

    page: Path
    site: str
    labels_file: str  # relative to the project root, as the page shows it
    images: int
    from_file: int  # images labelled in labels_file; the rest pre-filled from the score
    dropped: list[str]  # label-file rows naming images triage did not keep
    bad_inputs: Path

    def summary(self) -> list[str]:
        lines = [
            f"{self.images} images ({self.from_file} labelled in {self.labels_file}, "
            f"{self.images - self.from_file} pre-filled from the deployed score): open {self.page}"
        ]
        if self.dropped:
            lines.append(
                f"{len(self.dropped)} row(s) of {self.labels_file} name images triage did not keep "
                f"(see {self.bad_inputs}); the export leaves them out, e.g. {self.dropped[0]}"
            )
        return lines


def read_index(src: Path) -> list[dict[str, str]]:
    index = src / INDEX_NAME
    if not index.is_file():
        raise FileNotFoundError(f"{index}: no triage for this site yet (dvc repro src@{src.parent.name})")
    return [row for _, row in read_rows(index, INDEX_COLUMNS)]


def existing_labels(path: Path, reversed_default_label: str) -> dict[str, Pick]:
    """The label file if present, validated as the mask_train stage validates it."""
    if not path.is_file():
        return {}
    return {pick.image: pick for pick in read_label_file(path, reversed_default_label)}


def review_items(
    src: Path, page_dir: Path, labels: dict[str, Pick], *, root_dir: str | Path, cutoffs: TriageCutoffs
) -> list[dict]:
    """One entry per triaged image: where to show it from, its score, and its starting labels."""
    items = []
    for row in read_index(src):
        score = float(row["score"])
        pick = labels.get(row["image"])
        items.append(
            {
                "image": row["image"],
                "score": score,
                "cls": row["class"],
                "band": row["band"],
                "src": relative_url(resolve(root_dir, row["path"]), page_dir),
                "label": pick.label if pick else cutoffs.prefill_label(score),
                "opposite": pick.opposite_label if pick else "",
                "source": "labels file" if pick else "deployed score",
            }
        )
    return items


def render_page(title: str, data: dict) -> str:
    """The template with style, script and data inlined (`script_json`: no value can end the script)."""
    files = resources.files(TEMPLATES[0]) / TEMPLATES[1]
    page = (files / "review.html").read_text(encoding="utf-8")
    for key, value in (
        ("{{STYLE}}", (files / "review.css").read_text(encoding="utf-8")),
        ("{{SCRIPT}}", (files / "review.js").read_text(encoding="utf-8")),
        ("{{TITLE}}", escape(title)),
        ("{{DATA}}", script_json(data)),
    ):
        page = page.replace(key, value)
    return page


def write_review_page(
    site: str,
    src: Path,
    out_dir: str | Path,
    *,
    labels_dir: str | Path,
    root_dir: str | Path,
    reversed_default_label: str,
    cutoffs: TriageCutoffs,
    settings: PageSettings,
) -> ReviewPage:
    """`<out_dir>/index.html` over the triage in src, labels from `<labels_dir>/<site>.csv` or the cut-offs."""
    page_dir = Path(out_dir)
    labels_path = Path(labels_dir) / f"{site}.csv"
    labels = existing_labels(labels_path, reversed_default_label)
    items = review_items(src, page_dir, labels, root_dir=root_dir, cutoffs=cutoffs)
    dropped = sorted(set(labels) - {item["image"] for item in items})
    labels_file = Path(os.path.relpath(labels_path, root_dir)).as_posix()
    data = {
        "site": site,
        "labels_file": labels_file,
        "panels": int(settings.panels),
        "panel_names": list(PANEL_NAMES[: settings.panels]),
        "keys": settings.shortcuts,
        "advance": bool(settings.advance_on_label),
        "view_height": int(settings.view_height),
        "thumb_height": int(settings.thumb_height),
        "items": items,
    }
    data["fingerprint"] = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]
    page = write_text_atomic(page_dir / PAGE_NAME, render_page(f"Review {site}", data))
    from_file = sum(item["source"] == "labels file" for item in items)
    return ReviewPage(page, site, labels_file, len(items), from_file, dropped, src / "bad_inputs.csv")
