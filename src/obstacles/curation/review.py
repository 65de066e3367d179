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
from typing import Callable

import numpy as np
import pandas as pd
from hydra.utils import instantiate

from obstacles.curation.embedding import Embedder, InputSpec, embed_files, input_spec
from obstacles.curation.review_value import ValueWeights, site_issues, value_fields
from obstacles.curation.settings import ReviewSettings
from obstacles.io.html import escape, relative_url, script_json
from obstacles.io.label_file import Pick, read_label_file
from obstacles.io.manifests import read_rows, resolve
from obstacles.io.outputs import write_text_atomic
from obstacles.lineage.names import INDEX_COLUMNS, INDEX_NAME
from obstacles.lineage.triage import TriageCutoffs

PAGE_NAME = "index.html"
PANEL_NAMES = ("reference", "current", "mask")
TEMPLATES = ("obstacles.curation", "templates")
ORDERS = ("file", "value")  # file: capture time (the file names); value: `review_value`
# per item -> value fields (model_score, value, terms, why), given the items and their image files
Valuer = Callable[[list[dict], list[Path]], list[dict]]


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
    valuer: Valuer | None = None,
) -> ReviewPage:
    """`<out_dir>/index.html` over the triage in src, labels from `<labels_dir>/<site>.csv` or the cut-offs.
    With a valuer the page opens in value order (`review_value`), each item showing its value and why."""
    page_dir = Path(out_dir)
    labels_path = Path(labels_dir) / f"{site}.csv"
    labels = existing_labels(labels_path, reversed_default_label)
    items = review_items(src, page_dir, labels, root_dir=root_dir, cutoffs=cutoffs)
    # the browser keeps edits per fingerprint: the same labels whichever order the page opens in
    fingerprint = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]
    if valuer is not None:
        files = [Path(resolve(root_dir, row["path"])) for row in read_index(src)]
        items = [item | fields for item, fields in zip(items, valuer(items, files))]
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
        "order": ORDERS[1] if valuer is not None else ORDERS[0],
        "fingerprint": fingerprint,
    }
    page = write_text_atomic(page_dir / PAGE_NAME, render_page(f"Review {site}", data))
    from_file = sum(item["source"] == "labels file" for item in items)
    return ReviewPage(page, site, labels_file, len(items), from_file, dropped, src / "bad_inputs.csv")


ISSUES_READ = ("rank", "path", "site", "label")  # the columns of label_issues.csv the queue reads


def read_issues(path: str | Path | None) -> pd.DataFrame | None:
    """The out-of-fold label issues (`label_issues.csv`), or None when that report was not made; a
    file without the columns the queue reads, or with a rank that is not a whole number, is an
    error naming it."""
    if path is None or not Path(path).is_file():
        return None
    try:
        issues = pd.read_csv(path, dtype={"path": str, "site": str, "label": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a label_issues.csv table ({error})") from error
    missing = [column for column in ISSUES_READ if column not in issues.columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing} (a label_issues.csv has {list(ISSUES_READ)})")
    rank = pd.to_numeric(issues["rank"], errors="coerce")
    bad = issues.index[rank.isna() | (rank != rank.round())]
    if len(bad):
        raise ValueError(f"{path}, line {int(bad[0]) + 2}: rank {issues['rank'].iat[bad[0]]!r} is not a whole number")
    return issues.assign(rank=rank.astype(int))


def scoring_valuer(
    embedder: Embedder,
    spec: InputSpec,
    issues: pd.DataFrame | None,
    *,
    site: str,
    weights: ValueWeights,
    reversed_suffix: str,
    cache_dir: str | Path | None,
    batch_size: int,
) -> Valuer:
    """A valuer that scores the site's images with the current model (through the embedding cache)
    and marks the frames the out-of-fold label issues flagged (`review_value`)."""
    by_frame = site_issues(issues, site, reversed_suffix)

    def valuer(items: list[dict], files: list[Path]) -> list[dict]:
        embedded = embed_files(files, embedder, spec, cache_dir=cache_dir, batch_size=batch_size, desc="score site")
        logit = dict(zip(embedded.paths, embedded.logits.astype(np.float64)))
        missing = [str(f) for f in files if f not in logit]
        if missing:
            raise ValueError(f"{len(missing)} image(s) of the site could not be scored, e.g. {missing[0]}")
        model = 1.0 / (1.0 + np.exp(-np.array([logit[f] for f in files])))
        deployed = np.array([item["score"] for item in items])
        flagged = [by_frame.get(Path(item["image"]).stem) for item in items]
        return value_fields(deployed, model, flagged, weights)

    return valuer


def settings_valuer(settings: ReviewSettings, site: str):
    """order=value: the current model (`ckpt_path=`, default the latest run) and the out-of-fold
    label issues rank the frames; order=file: none (the page keeps capture-time order)."""
    if settings.order not in ORDERS:
        raise ValueError(f"order={settings.order!r}: expected one of {ORDERS}")
    if settings.order == "file":
        return None
    embedder = instantiate(settings.embedder)
    spec = input_spec(
        embedder, panels=settings.recording.panels, panel_size=None, pixel_threshold=settings.site.pixel_threshold
    )
    value = settings.value
    issues = read_issues(value.label_issues)
    if issues is None:
        print(f"[review {site}] no out-of-fold label issues at {value.label_issues}: ranked without them")
    weights = ValueWeights(value.issue_weight, value.disagreement_weight, value.uncertainty_weight, value.threshold)
    print(f"[review {site}] value order with {embedder.description}")
    return scoring_valuer(
        embedder,
        spec,
        issues,
        site=site,
        weights=weights,
        reversed_suffix=settings.no_mask_train.reversed_suffix,
        cache_dir=settings.cache_dir,
        batch_size=settings.batch_size,
    )
