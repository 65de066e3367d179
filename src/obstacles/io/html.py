"""Static HTML pages (similarity and audit contact sheets and evaluation galleries, all built by
`contact_sheet`; the review page): no server, relative image links, so a page opens from disk or
from a copied report folder.

Every page goes through these few helpers, because file names are data a recorder, a site or a
reviewer chose: a quote, `<`, `&`, `%`, `#` or `?` in a name must neither end an attribute (and
run script) nor break the link. `relative_url` is the one way a file path becomes a link,
`escape` the one way text or an attribute value enters the markup, `script_json` the one way
data enters an inline script.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, Sequence
from urllib.parse import quote

from obstacles.io.outputs import write_text_atomic

URL_SAFE = "/"  # path separators stay; every other reserved or non-ASCII character is percent-encoded
SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.sheet { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; padding: 6px; background: #fff; border: 1px solid #ddd; border-radius: 4px; width: min-content; }
figure.query { border: 2px solid #1f6feb; }
figure img { display: block; height: var(--thumb-height, auto); width: var(--thumb-width, auto); }
figcaption { font-size: 0.8em; word-break: break-all; margin-top: 4px; }
.row { display: flex; gap: 12px; margin: 10px 0; padding-bottom: 10px; border-bottom: 1px dashed #ccc; }
.note { color: #555; }
"""


def escape(text: object) -> str:
    """Text, or an attribute value, as markup: `& < > " '` become entities."""
    return html.escape(str(text), quote=True)


def relative_url(target: str | Path, page_dir: str | Path) -> str:
    """The link from a page in page_dir to target: relative, UTF-8 percent-encoded per path segment
    (a literal `%20` in a name stays a name, `#` and `?` do not start a fragment or a query).
    Escape it before putting it in an attribute (`figure` does)."""
    relative = os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())
    return quote(Path(relative).as_posix(), safe=URL_SAFE)


def script_json(data: object) -> str:
    """JSON for an inline `<script type="application/json">`: `<`, `>` and `&` as unicode escapes,
    so no value can close the script or open a comment in it; JSON.parse reads it unchanged."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return "".join(SCRIPT_ESCAPES.get(char, char) for char in text)


def figure(target: str | Path, page_dir: str | Path, caption_lines: list[str], css_class: str = "") -> str:
    """A thumbnail of the image file target, linked to it, with plain-text caption lines."""
    src = escape(relative_url(target, page_dir))
    caption = "<br>".join(escape(line) for line in caption_lines)
    return (
        f'<figure class="{escape(css_class)}"><a href="{src}"><img src="{src}" loading="lazy" alt=""></a>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def section(title: str, content: str, note: str = "", anchor: str = "") -> str:
    """A titled part of a page; anchor gives the heading an id to link to (`#anchor`)."""
    heading_id = f' id="{escape(anchor)}"' if anchor else ""
    extra = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<h2{heading_id}>{escape(title)}</h2>{extra}\n{content}\n"


@dataclass(frozen=True)
class SheetLayout:
    """A contact-sheet page: thumbnail height in pixels, and how many items each section shows
    (the tool's CSVs hold them all)."""

    thumb_height: int
    max_shown: int


@dataclass(frozen=True)
class Card:
    """One thumbnail of a contact sheet: the image file, its caption lines, a CSS class (`query`)."""

    target: str | Path
    caption: Sequence[str]
    css_class: str = ""


@dataclass(frozen=True)
class Row:
    """Cards side by side with a line under them (a near-duplicate pair and its similarity)."""

    cards: Sequence[Card]
    note: str


@dataclass(frozen=True)
class Sheet:
    """A titled section of a contact sheet. layout `grid`: the cards wrap (an empty grid stays an
    empty grid); `rows`: one Row per line, "none" when there is none."""

    title: str
    items: Sequence[Card] | Sequence[Row]
    note: str = ""
    anchor: str = ""
    layout: Literal["grid", "rows"] = "grid"


def card(item: Card, page_dir: str | Path) -> str:
    return figure(item.target, page_dir, list(item.caption), item.css_class)


def sheet_section(sheet: Sheet, page_dir: str | Path) -> str:
    """One Sheet as markup: every name in it goes through `figure` and `section`."""
    if sheet.layout == "grid":
        content = f'<div class="sheet">{"".join(card(item, page_dir) for item in sheet.items)}</div>'
    else:
        rows = (
            f'<div class="row">{"".join(card(c, page_dir) for c in row.cards)}<p>{escape(row.note)}</p></div>'
            for row in sheet.items
        )
        content = "".join(rows) or "<p>none</p>"
    return section(sheet.title, content, sheet.note, sheet.anchor)


def contact_sheet(sheets: Iterable[Sheet], page_dir: str | Path, *, intro: str = "", separator: str = "") -> str:
    """The body of a contact-sheet page (the similarity search's, the audit's, the galleries'):
    intro (markup built with these helpers) then the sheets, joined by separator."""
    parts = [intro] if intro else []
    return separator.join([*parts, *(sheet_section(sheet, page_dir) for sheet in sheets)])


def fragment_link(anchor: str, text: str) -> str:
    """A link to a section of the same page."""
    return f'<a href="#{escape(anchor)}">{escape(text)}</a>'


def write_page(
    path: str | Path, title: str, body: str, *, thumb_height: int | None = None, thumb_width: int | None = None
) -> Path:
    """One self-contained page (inline CSS, no script) written atomically; thumbnails sized by
    height (contact sheets) or by width (galleries), the other side following the aspect ratio."""
    sizes = {"--thumb-height": thumb_height, "--thumb-width": thumb_width}
    variables = " ".join(f"{name}: {int(value)}px;" for name, value in sizes.items() if value)
    document = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}:root {{ {variables} }}</style></head>\n"
        f"<body><h1>{escape(title)}</h1>\n{body}</body></html>\n"
    )
    return write_text_atomic(path, document)
