"""A static review page for one site's triage: `python -m obstacles.commands.review site=<id>` (conf/review.yaml).

Replaces hand-copying images between folders: the page shows every image of
the site's triage (`datasets/<site>/src/index.csv`: deployed score, class, band; the images are
the recording's own) and the reviewer labels it with
keys; "Export" downloads `<site>.csv` in the label-file format the mask_train stage reads
(`image,label,opposite_label`), to be saved as `labels/<site>.csv`. Labels start from that file
when it exists (rows for images triage rejected are dropped, with a warning), otherwise from the
deployed score with the pipeline's triage cut-offs. No server: inline script and style, images
linked relatively, so the page opens from disk.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.config import entry_point
from obstacles.io.html import escape, relative_url, script_json
from obstacles.io.label_file import Pick, read_label_file
from obstacles.io.manifests import read_rows, resolve
from obstacles.io.outputs import write_text_atomic
from obstacles.lineage import INDEX_COLUMNS, INDEX_NAME, SRC_DIR, prefill_label
from obstacles.stages.common import site_dir, site_name

PAGE_NAME = "index.html"
PANEL_NAMES = ("reference", "current", "mask")
TEMPLATES = ("obstacles.curation", "templates")


def read_index(src: Path) -> list[dict[str, str]]:
    index = src / INDEX_NAME
    if not index.is_file():
        raise FileNotFoundError(f"{index}: no triage for this site yet (dvc repro src@{src.parent.name})")
    return [row for _, row in read_rows(index, INDEX_COLUMNS)]


def existing_labels(cfg: DictConfig, site: str) -> dict[str, Pick]:
    """labels/<site>.csv if present, validated as the mask_train stage validates it."""
    path = Path(cfg.paths.labels_dir) / f"{site}.csv"
    if not path.is_file():
        return {}
    return {pick.image: pick for pick in read_label_file(path, cfg.mask_train.reversed_default_label)}


def review_items(cfg: DictConfig, src: Path, page_dir: Path, labels: dict[str, Pick]) -> list[dict]:
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
                "src": relative_url(resolve(cfg.paths.root_dir, row["path"]), page_dir),
                "label": pick.label
                if pick
                else prefill_label(score, cfg.src.obstacle_above, cfg.src.no_obstacle_at_most),
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


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    src = site_dir(cfg) / SRC_DIR
    page_dir = Path(cfg.out_dir)
    labels = existing_labels(cfg, site)
    items = review_items(cfg, src, page_dir, labels)
    dropped = sorted(set(labels) - {item["image"] for item in items})
    labels_file = Path(os.path.relpath(Path(cfg.paths.labels_dir) / f"{site}.csv", cfg.paths.root_dir)).as_posix()
    data = {
        "site": site,
        "labels_file": labels_file,
        "panels": int(cfg.recording.panels),
        "panel_names": list(PANEL_NAMES[: cfg.recording.panels]),
        "keys": OmegaConf.to_container(cfg.shortcuts),
        "advance": bool(cfg.advance_on_label),
        "view_height": int(cfg.view_height),
        "thumb_height": int(cfg.thumb_height),
        "items": items,
    }
    data["fingerprint"] = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]
    page = write_text_atomic(page_dir / PAGE_NAME, render_page(f"Review {site}", data))
    from_file = sum(item["source"] == "labels file" for item in items)
    print(
        f"[review {site}] {len(items)} images ({from_file} labelled in {labels_file}, "
        f"{len(items) - from_file} pre-filled from the deployed score): open {page}"
    )
    if dropped:
        print(
            f"[review {site}] {len(dropped)} row(s) of {labels_file} name images triage did not keep "
            f"(see {src / 'bad_inputs.csv'}); the export leaves them out, e.g. {dropped[0]}"
        )
    return page


main = entry_point("review", run)

if __name__ == "__main__":
    main()
