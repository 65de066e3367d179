"""`dvc plots show` offline (issue 21 item 8): DVC's page loaded Vega, Vega-Lite and Vega-Embed from a
CDN, blank without internet. The project's .dvc/config points plots.html_template at a template that
holds the libraries inline (obstacles.io.dvc_plots): the page DVC writes must draw with no network."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from obstacles.io import dvc_plots
from tests.helpers.project import REPO

DVC = str(Path(sys.executable).with_name("dvc"))
ROC = "fpr,tpr\n0,0\n0.1,0.6\n0.3,0.8\n1,1\n"
PLOTS_YAML = "plots:\n  - roc.csv:\n      x: fpr\n      y: tpr\n  - roc.csv:\n      x: fpr\n      y: tpr\n      template: scatter\n"
DRAW_WAIT_S = 20.0
POLL_S = 0.1
DRAWN = "return [...document.querySelectorAll('div[id] svg, div[id] canvas')].length;"
NETWORK_LOADS = "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => /^https?:/.test(n));"
EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc\s*=", re.IGNORECASE)


@pytest.fixture
def plotted(tmp_path) -> Path:
    """`dvc plots show` in a scratch project with the repository's .dvc/config and templates: its index.html."""
    project = tmp_path / "project"
    (project / ".dvc").mkdir(parents=True)
    shutil.copyfile(REPO / ".dvc" / "config", project / ".dvc" / "config")
    if (REPO / ".dvc" / "plots").is_dir():
        shutil.copytree(REPO / ".dvc" / "plots", project / ".dvc" / "plots")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "roc.csv").write_text(ROC)
    (project / "dvc.yaml").write_text(PLOTS_YAML)
    subprocess.run([DVC, "plots", "show"], cwd=project, check=True, capture_output=True)
    return project / "dvc_plots" / "index.html"


def test_the_page_dvc_writes_loads_nothing_from_the_network(plotted):
    html = plotted.read_text(encoding="utf8")
    assert not EXTERNAL_SCRIPT.search(html), "a <script src=...>: the page needs the network"
    assert "vegaEmbed('#" in html and "https://cdn" not in html


def test_the_template_holds_the_libraries_dvc_would_fetch_unaltered():
    """The versions DVC's own page names (a DVC upgrade that moves them fails here: rewrite the
    template with `python -m obstacles.io.dvc_plots`), each script as its recorded sha256 says."""
    template = (REPO / dvc_plots.TEMPLATE).read_text(encoding="utf8")
    headers = list(dvc_plots.HEADER.finditer(template))
    assert [(h["package"], h["version"]) for h in headers] == list(dvc_plots.cdn_versions().items())
    scripts = re.findall(r"<script>\n(.*?)\n</script>", template, re.DOTALL)
    assert len(scripts) == len(headers)
    for header, code in zip(headers, scripts):
        assert hashlib.sha256(code.encode()).hexdigest() == header["sha256"], header["package"]
    assert "{plot_divs}" in template and "{scripts}" not in template, "no placeholder for DVC's CDN tags"


@pytest.mark.browser
def test_the_plots_draw_in_a_browser_without_network(plotted, browser):
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    browser.get(plotted.as_uri())
    deadline = time.monotonic() + DRAW_WAIT_S
    while browser.execute_script(DRAWN) < 2 and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert browser.execute_script("return typeof vegaEmbed") == "function"
    assert browser.execute_script(DRAWN) == 2, "each plot draws its svg or canvas"
    assert browser.execute_script(NETWORK_LOADS) == []


def test_a_tarball_the_registry_did_not_publish_is_refused():
    import io
    import json
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (("package.json", json.dumps({"jsdelivr": "build/x.min.js"})), ("build/x.min.js", "x=1")):
            data = text.encode()
            info = tarfile.TarInfo(f"{dvc_plots.TARBALL_ROOT}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tarball = buffer.getvalue()
    with pytest.raises(ValueError, match="vega@9.9.9: tarball integrity sha512-.*, the registry says sha512-bogus"):
        dvc_plots.library("vega", "9.9.9", tarball, "sha512-bogus")
    with pytest.raises(KeyError):  # the right bytes, but no LICENSE in the package: not inlined without one
        dvc_plots.library("vega", "9.9.9", tarball, dvc_plots.integrity(tarball))
