"""The pages' one HTML helper module: links, text and inline data for hostile names (the pages
themselves are opened in Chromium by test_similar, test_audit, test_evaluate and test_review)."""

from __future__ import annotations

import ast
import html
import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from conftest import REPO
from html_fixtures import HOSTILE_NAMES, file_safe
from obstacles.io.html import escape, figure, relative_url, script_json

PAGE_MODULES = ("similar.py", "audit.py", "review.py", "evaluation/gallery.py")
OWN_ESCAPING = {"html", "urllib.parse", "markupsafe"}  # what a page would use to escape on its own


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_link_is_relative_percent_encoded_and_reads_back_as_the_path(tmp_path, name):
    page_dir, target = tmp_path / "report" / "t0.50", tmp_path / "data" / file_safe(name) / f"{file_safe(name)}.jpg"
    url = relative_url(target, page_dir)
    assert unquote(url) == f"../../data/{file_safe(name)}/{file_safe(name)}.jpg"
    assert not set(url) & set("\"'<>&#? ")  # nothing an attribute or a URL would read as syntax
    card = figure(target, page_dir, [name])
    assert f'src="{escape(url)}"' in card and f"<figcaption>{html.escape(name)}</figcaption>" in card


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
