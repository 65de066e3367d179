"""The pages' one HTML helper module: links, text and inline data for hostile names (the pages
themselves are opened in Chromium by test_similar, test_audit, test_evaluate and test_review)."""

from __future__ import annotations

import ast
import html
import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from obstacles.io.html import Card, Row, Sheet, contact_sheet, escape, figure, relative_url, script_json
from tests.helpers.html import HOSTILE_NAMES, file_safe
from tests.helpers.project import REPO

PAGE_MODULES = (
    "commands/similar.py",
    "commands/audit.py",
    "commands/review.py",
    "curation/search.py",
    "curation/audit.py",
    "curation/review.py",
    "evaluation/gallery.py",
)
OWN_ESCAPING = {"html", "urllib.parse", "markupsafe"}  # what a page would use to escape on its own


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_link_is_relative_percent_encoded_and_reads_back_as_the_path(tmp_path, name):
    page_dir, target = tmp_path / "report" / "t0.50", tmp_path / "data" / file_safe(name) / f"{file_safe(name)}.jpg"
    url = relative_url(target, page_dir)
    assert unquote(url) == f"../../data/{file_safe(name)}/{file_safe(name)}.jpg"
    assert not set(url) & set("\"'<>&#? ")  # nothing an attribute or a URL would read as syntax
    card = figure(target, page_dir, [name])
    assert f'src="{escape(url)}"' in card and f"<figcaption>{html.escape(name)}</figcaption>" in card


def test_the_contact_sheet_escapes_every_name_and_keeps_its_layouts(tmp_path):
    """The one builder of the similarity, audit and gallery pages: titles, notes, captions and
    row notes are text; a grid stays a (possibly empty) grid, rows say "none" when there are none."""
    page_dir, name = tmp_path / "page", HOSTILE_NAMES[3]
    image = tmp_path / file_safe(name) / "a.jpg"
    cards = [Card(image, [name, "second line"], "query"), Card(image, [name])]
    sheets = [
        Sheet(name, cards, note=name, anchor="grid"),
        Sheet("pairs", [Row(cards, name)], layout="rows"),
        Sheet("no pairs", [], layout="rows"),
        Sheet("no cards", []),
    ]
    body = contact_sheet(sheets, page_dir, intro="<p>intro</p>", separator="\n")
    assert name not in body and body.count(escape(name)) == 7  # title, note, 4 captions, row note
    assert body.startswith('<p>intro</p>\n<h2 id="grid">')
    assert body.count(figure(image, page_dir, [name])) == 2
    assert figure(image, page_dir, [name, "second line"], "query") in body
    assert f'<div class="row">{figure(image, page_dir, [name, "second line"], "query")}' in body
    assert "<h2>no pairs</h2>\n<p>none</p>" in body and '<h2>no cards</h2>\n<div class="sheet"></div>' in body
    assert contact_sheet(sheets[3:], page_dir) == '<h2>no cards</h2>\n<div class="sheet"></div>\n'


def test_inline_data_cannot_end_or_comment_out_its_script():
    data = {"names": list(HOSTILE_NAMES)}
    text = script_json(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data


@pytest.mark.parametrize("module", PAGE_MODULES)
def test_pages_escape_only_through_the_shared_helpers(module):
    tree = ast.parse((Path(REPO) / "src" / "obstacles" / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & OWN_ESCAPING, f"{module} escapes on its own: use obstacles.io.html"
