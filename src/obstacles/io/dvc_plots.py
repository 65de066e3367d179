"""`dvc plots show` offline: the HTML template (.dvc/plots/offline.html) that carries Vega itself.

DVC's page (dvc_render) loads Vega, Vega-Lite and Vega-Embed from a CDN, so dvc_plots/index.html
is blank on a machine without internet. DVC's documented way out is ``plots.html_template`` in
.dvc/config: a page with a ``{plot_divs}`` placeholder, and without a ``{scripts}`` one, where DVC
would put its CDN tags. Our template holds the three libraries inline, not as files beside it: DVC
copies the template's text into index.html, wherever ``-o`` or ``plots.out_dir`` puts it, so a
relative link would break with the output folder while inline code travels with the page (about
0.8 MB, one file to mail or archive).

The libraries are exactly what DVC would fetch: the versions come from dvc_render's own CDN tags
(`cdn_versions`), and each file is the package's ``jsdelivr`` entry (what the CDN serves for
``npm/<package>@<version>``) taken from the npm registry's tarball, whose sha512 the registry
publishes. Each script is preceded by a comment naming the package, version, file, the tarball's
integrity, the script's own sha256 and the package's license text. After a DVC upgrade that moves
the versions (tests/test_dvc_plots.py says so), ``python -m obstacles.io.dvc_plots`` writes the
template again from the registry.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from obstacles.io.outputs import write_text_atomic

TEMPLATE = Path(".dvc") / "plots" / "offline.html"  # plots.html_template in .dvc/config is relative to .dvc/
REGISTRY = "https://registry.npmjs.org"
PACKAGES = ("vega", "vega-lite", "vega-embed")  # loaded in this order: each builds on the one before
TARBALL_ROOT = "package"  # npm packs every file under package/
CDN_TAG = re.compile(r"npm/(?P<package>[a-z-]+)@(?P<version>[0-9][0-9.]*)")
# the comment that names each inline script, and what the test re-reads from it
HEADER = re.compile(
    r"<!-- (?P<package>[a-z-]+)@(?P<version>[0-9.]+): (?P<file>\S+) from the npm tarball "
    r"\(integrity (?P<integrity>sha512-\S+)\); script sha256 (?P<sha256>[0-9a-f]{64})\."
)
PAGE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- Written by `python -m obstacles.io.dvc_plots` (see its docstring): DVC's page with Vega,
    Vega-Lite and Vega-Embed inline instead of from a CDN, so that it draws offline. -->
{libraries}
    <style>
        table {{
            border-spacing: 15px;
        }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""
LIBRARY = """<!-- {package}@{version}: {file} from the npm tarball (integrity {integrity}); script sha256 {sha256}.
{license}-->
<script>
{code}
</script>"""


@dataclass(frozen=True)
class Library:
    package: str
    version: str
    file: str  # inside the tarball's package/ folder
    integrity: str  # the registry's sha512 of the tarball
    code: str
    license: str

    def html(self) -> str:
        sha256 = hashlib.sha256(self.code.encode()).hexdigest()
        fields = {k: v for k, v in vars(self).items()}
        return LIBRARY.format(sha256=sha256, **fields)


def cdn_versions() -> dict[str, str]:
    """package -> version in the CDN tags of the installed dvc_render: what `dvc plots show` loads."""
    from dvc_render.vega import VegaRenderer

    return {m["package"]: m["version"] for m in CDN_TAG.finditer(VegaRenderer.SCRIPTS)}


def integrity(tarball: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()


def library(package: str, version: str, tarball: bytes, expected_integrity: str) -> Library:
    """The package's CDN entry file and license from its tarball, refused if the bytes are not the registry's."""
    found = integrity(tarball)
    if found != expected_integrity:
        raise ValueError(f"{package}@{version}: tarball integrity {found}, the registry says {expected_integrity}")
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:

        def read(name: str) -> str:
            return archive.extractfile(f"{TARBALL_ROOT}/{name}").read().decode()

        manifest = json.loads(read("package.json"))
        entry = manifest["jsdelivr"]
        return Library(package, version, entry, found, read(entry).strip(), read("LICENSE"))


def fetch(package: str, version: str) -> Library:
    """The library from the npm registry (its metadata gives the tarball's URL and integrity)."""
    with urllib.request.urlopen(f"{REGISTRY}/{package}/{version}") as response:
        dist = json.load(response)["dist"]
    with urllib.request.urlopen(dist["tarball"]) as response:
        return library(package, version, response.read(), dist["integrity"])


def page(libraries: list[Library]) -> str:
    """The template's text; refuses a library whose code would end its script tag or look like a placeholder."""
    for lib in libraries:
        if "</script" in lib.code.lower() or re.search(r"\{(plot_divs|scripts|refresh_tag)\}", lib.code):
            raise ValueError(f"{lib.package}@{lib.version}: {lib.file} cannot be inlined as it is")
    return PAGE.format(libraries="\n".join(lib.html() for lib in libraries))


def write_template(root: Path) -> Path:
    versions = cdn_versions()
    path = Path(root) / TEMPLATE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, page([fetch(package, versions[package]) for package in PACKAGES]))
    return path


if __name__ == "__main__":
    print(write_template(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
