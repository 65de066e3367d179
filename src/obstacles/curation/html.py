"""Static HTML contact sheets: no server, relative image links, so a page can be opened from disk
(or a copied report folder, if the images travel with it)."""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from obstacles.io.outputs import write_text_atomic

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.sheet { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; padding: 6px; background: #fff; border: 1px solid #ddd; border-radius: 4px; width: min-content; }
figure.query { border: 2px solid #1f6feb; }
figure img { display: block; height: var(--thumb, 120px); }
figcaption { font-size: 0.8em; word-break: break-all; margin-top: 4px; }
.row { display: flex; gap: 12px; margin: 10px 0; padding-bottom: 10px; border-bottom: 1px dashed #ccc; }
.note { color: #555; }
"""


def relative_url(target: str | Path, page_dir: str | Path) -> str:
    """A link from a page in page_dir to target, URL-quoted (spaces, #, ? in file names)."""
    return quote(Path(os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())).as_posix())


def figure(src: str, caption_lines: list[str], css_class: str = "") -> str:
    caption = "<br>".join(html.escape(line) for line in caption_lines)
    return (
        f'<figure class="{css_class}"><a href="{src}"><img src="{src}" loading="lazy" alt=""></a>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def section(title: str, content: str, note: str = "") -> str:
    extra = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return f"<h2>{html.escape(title)}</h2>{extra}\n{content}\n"


def write_page(path: str | Path, title: str, body: str, thumb_height: int) -> Path:
    """One self-contained page (inline CSS) written atomically."""
    document = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}:root {{ --thumb: {int(thumb_height)}px; }}</style></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n"
    )
    return write_text_atomic(path, document)
