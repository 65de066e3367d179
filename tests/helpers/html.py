"""The static HTML pages in a real headless Chromium (the `browser` fixture), and the one set of
hostile names they must survive: the similarity and audit contact sheets, the evaluation galleries
and the review page.

A hostile name must neither run script (an alert, an injected element) nor break a thumbnail, and
must read back as the text it is.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

# quotes, markup that runs script if a page writes it raw, and characters a URL reads as syntax
HOSTILE_NAMES = (
    "it's",
    'say "cheese"',
    "<script>alert(1)</script>",
    'x"><img src=q onerror=alert(1)>',
    "<svg onload=alert(2)>",
    "<!--<script>",
    "fish & chips",
    "100%",
    "100%20off",
    "a#b",
    "why?x=1",
    "two  spaces",
    "café",
    "日本",
)
CAPTURE_SUFFIX = "_2022-09-07T06-12-{second:02d}"  # a stem must end with the recorder's capture time
NOT_IN_FILE_NAMES = {"/": "\\"}  # a path separator cannot be part of a file name

CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)
IMAGES_WAIT_S = 10.0
POLL_S = 0.1

# installed before any script of the page runs: dialogs are recorded instead of shown
DIALOG_HOOK = """
window.__dialogs = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (...args) => { window.__dialogs.push(`${name}(${args.join(", ")})`); };
}
"""
# every <img> loads now (not when scrolled to): the test is whether the link works
LOAD_ALL = "document.querySelectorAll('img').forEach((img) => { img.loading = 'eager'; });"
IMAGES_SETTLED = "return [...document.images].every((img) => img.complete);"
BROKEN_IMAGES = "return [...document.images].filter((img) => !(img.naturalWidth > 0)).map((img) => img.src);"
# CSS backgrounds (the review page's panels) are tried as images too
BROKEN_BACKGROUNDS = """
const done = arguments[arguments.length - 1];
const urls = [...new Set([...document.querySelectorAll("*")]
  .map((e) => getComputedStyle(e).backgroundImage).filter((v) => v.startsWith("url("))
  .map((v) => v.slice(5, -2)))];
Promise.all(urls.map((url) => new Promise((ok) => {
  const img = new Image();
  img.onload = () => ok(img.naturalWidth > 0 ? null : url);
  img.onerror = () => ok(url);
  img.src = url;
}))).then((results) => done({tried: urls.length, broken: results.filter(Boolean)}));
"""
EVENT_HANDLERS = """
return [...document.querySelectorAll("*")]
  .filter((e) => [...e.attributes].some((a) => a.name.startsWith("on"))).map((e) => e.outerHTML);
"""
# the page's text as a reader sees it (scripts left out), plus tooltips and the window title
READABLE_TEXT = """
const body = document.body.cloneNode(true);
body.querySelectorAll("script").forEach((s) => s.remove());
const titles = [...document.querySelectorAll("[title]")].map((e) => e.title);
return [document.title, body.textContent, ...titles].join("\\n");
"""


def file_safe(name: str) -> str:
    for char, replacement in NOT_IN_FILE_NAMES.items():
        name = name.replace(char, replacement)
    return name


def hostile_stems() -> list[str]:
    """One recorder-like stem per hostile name: `<name>_2022-09-07T06-12-<k>`."""
    return [file_safe(name) + CAPTURE_SUFFIX.format(second=k) for k, name in enumerate(HOSTILE_NAMES)]


def rename_to_hostile(files: list[Path]) -> list[Path]:
    """Rename the first len(HOSTILE_NAMES) files (same folder, same suffix) to the hostile stems."""
    assert len(files) >= len(HOSTILE_NAMES), "need one file per hostile name"
    renamed = []
    for path, stem in zip(files, hostile_stems()):
        renamed.append(path.rename(path.with_name(stem + path.suffix)))
    return renamed


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium via chromedriver, downloads into tmp_path/downloads; skipped without them."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait_for_images(driver) -> None:
    driver.execute_script(LOAD_ALL)
    deadline = time.monotonic() + IMAGES_WAIT_S
    while not driver.execute_script(IMAGES_SETTLED) and time.monotonic() < deadline:
        time.sleep(POLL_S)


def assert_page_is_safe(driver, page: Path, texts: list[str], scripts: int = 0) -> None:
    """Open page: no dialog, no injected element or script, every image (and CSS background)
    loads, and each of texts reads back verbatim."""
    from selenium.common.exceptions import NoAlertPresentException

    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DIALOG_HOOK})
    driver.get(page.as_uri())
    wait_for_images(driver)
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018  (a property that raises when no dialog is open)
    dialogs = driver.execute_script("return window.__dialogs")
    assert dialogs == [], f"the page ran script: {dialogs}"
    handlers = driver.execute_script(EVENT_HANDLERS)
    assert handlers == [], f"injected elements: {handlers}"
    found = len(driver.execute_script("return document.scripts"))
    assert found == scripts, f"{found} <script> elements, expected {scripts}"
    broken = driver.execute_script(BROKEN_IMAGES)
    assert driver.execute_script("return document.images.length") > 0 and broken == [], f"broken images: {broken}"
    backgrounds = driver.execute_async_script(BROKEN_BACKGROUNDS)
    assert backgrounds["broken"] == [], f"broken backgrounds: {backgrounds['broken']}"
    readable = driver.execute_script(READABLE_TEXT)
    missing = [text for text in texts if text not in readable]
    assert missing == [], f"not shown as text: {missing}"
