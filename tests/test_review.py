"""Review page: pre-filled labels, site errors, and (in a real headless Chromium) keys -> export ->
labels/<site>.csv -> the mask_train stage."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from obstacles.commands.review import run
from obstacles.infra.config import compose
from obstacles.io.label_file import read_label_file
from obstacles.lineage.triage import TriageCutoffs
from obstacles.stages import mask_train, src
from tests.helpers.curation import SITE, index_rows, page_data, review_cfg, simulated_recording
from tests.helpers.html import HOSTILE_NAMES, assert_page_is_safe, file_safe, rename_to_hostile

DOWNLOAD_WAIT_S = 10.0
RELOAD_TRIES = 5
POLL_S = 0.1


@pytest.fixture
def triaged(tmp_path):
    """A simulated recording, its triage, and the simulator's label file moved aside."""
    simulated_recording(tmp_path, n_frames=12, panel=48)
    shutil.move(tmp_path / "labels" / f"{SITE}.csv", tmp_path / "simulated_labels.csv")
    src.run(review_cfg(tmp_path))
    return tmp_path


def test_labels_start_from_the_deployed_score_with_the_triage_cutoffs(triaged):
    cfg = review_cfg(triaged)
    page = run(cfg)
    assert page == triaged / "reports" / "review" / SITE / "index.html"
    items = page_data(page)["items"]
    assert [i["image"] for i in items] == [r["image"] for r in index_rows(triaged)]
    cutoffs = TriageCutoffs(cfg.src.obstacle_above, cfg.src.no_obstacle_at_most)
    for item in items:
        assert item["label"] == cutoffs.prefill_label(item["score"]) and item["opposite"] == ""
        assert (page.parent / item["src"]).resolve().is_file()  # relative links work from disk
    assert {i["label"] for i in items} == {"obstacle", "no_obstacle", "skip"}


def test_labels_start_from_an_existing_label_file(triaged):
    shutil.copy(triaged / "simulated_labels.csv", triaged / "labels" / f"{SITE}.csv")
    expected = {p.image: p for p in read_label_file(triaged / "labels" / f"{SITE}.csv", "no_obstacle")}
    items = page_data(run(review_cfg(triaged)))["items"]
    assert {i["image"]: (i["label"], i["opposite"]) for i in items} == {
        image: (pick.label, pick.opposite_label) for image, pick in expected.items()
    }


def test_site_must_be_given_and_registered(tmp_path):
    with pytest.raises(ConfigCompositionException, match="You must specify 'site'"):
        compose("review", [f"paths.root_dir={tmp_path}"])
    with pytest.raises(MissingConfigException, match="Could not find 'site/nowhere_202201_01'"):
        compose("review", [f"paths.root_dir={tmp_path}", "site=nowhere_202201_01"])
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'datasets' / SITE / 'src' / 'index.csv'}: no triage"):
        run(review_cfg(tmp_path))


# ---------------------------------------------------------------- the page in a real browser


def press(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    for key in keys:
        ActionChains(driver).send_keys(key).perform()


def download_finished(path: Path) -> bool:
    """Chromium may create the target empty before it writes it, next to a .crdownload partial."""
    partials = list(path.parent.glob("*.crdownload"))
    return path.is_file() and path.stat().st_size > 0 and not partials


def wait_for_file(path: Path) -> Path:
    deadline = time.monotonic() + DOWNLOAD_WAIT_S
    while not download_finished(path) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert download_finished(path), f"no complete download at {path}"
    return path


@pytest.mark.browser
def test_keys_and_export_round_trip_through_the_mask_train_stage(triaged, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    cfg = review_cfg(triaged)
    page = run(cfg)
    images = sorted(r["image"] for r in index_rows(triaged))
    browser.get(page.as_uri())
    assert browser.title == f"Review {SITE}"
    # labelling advances: image 0 obstacle, 1 no_obstacle, 2 skip; back to 1, reversed version twice -> obstacle
    press(browser, "o", "n", "s", Keys.ARROW_LEFT, Keys.ARROW_LEFT, "r", "r")
    press(browser, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, "r", "n")  # image 3: no_obstacle, reversed -> no_obstacle
    assert "reversed" in browser.find_element(By.ID, "counts").text
    browser.save_screenshot(str(tmp_path / "review.png"))
    browser.find_element(By.ID, "export").click()
    exported = wait_for_file(browser.downloads / f"{SITE}.csv")
    assert exported.read_text() == browser.execute_script("return window.reviewCsv()")

    labels_file = triaged / "labels" / f"{SITE}.csv"
    shutil.copy(exported, labels_file)
    picks = {p.image: p for p in read_label_file(labels_file, cfg.mask_train.reversed_default_label)}
    assert sorted(picks) == images
    assert (picks[images[0]].label, picks[images[0]].opposite_label) == ("obstacle", "")
    assert (picks[images[1]].label, picks[images[1]].opposite_label) == ("no_obstacle", "obstacle")
    assert (picks[images[2]].label, picks[images[2]].opposite_label) == ("skip", "")
    assert (picks[images[3]].label, picks[images[3]].opposite_label) == ("no_obstacle", "no_obstacle")

    table = pd.read_csv(mask_train.run(cfg), keep_default_na=False)
    for label in ("obstacle", "no_obstacle"):
        chosen = sorted(table.loc[table["label"] == label, "image"])
        assert chosen == sorted(image for image, pick in picks.items() if pick.label == label)
    assert sorted(table.loc[table["opposite_label"] != "", "image"]) == [images[1], images[3]]

    # a reload keeps the edits (localStorage) until Reset; Chromium commits storage asynchronously,
    # so a reload straight after the last key may come too early: allow a few
    for _ in range(RELOAD_TRIES):
        browser.refresh()
        if browser.execute_script("return window.reviewCsv()") == exported.read_text():
            break
        time.sleep(POLL_S)
    assert browser.execute_script("return window.reviewCsv()") == exported.read_text()
    browser.find_element(By.ID, "reset").click()
    assert browser.execute_script("return window.reviewCsv()") != exported.read_text()


@pytest.fixture
def hostile_triage(tmp_path):
    """A triaged recording whose every image (and JSON) carries one of the hostile names."""
    recording = simulated_recording(tmp_path, n_frames=len(HOSTILE_NAMES), panel=48)
    (tmp_path / "labels" / f"{SITE}.csv").unlink()  # it names the simulator's stems
    for folder in ("images", "json"):
        rename_to_hostile(sorted((recording / folder).iterdir()))
    src.run(review_cfg(tmp_path))
    return tmp_path


@pytest.mark.browser
def test_hostile_image_names_neither_run_script_nor_break_the_page(hostile_triage, browser):
    page = run(review_cfg(hostile_triage))
    images = sorted(r["image"] for r in index_rows(hostile_triage))
    assert len(images) == len(HOSTILE_NAMES)
    assert_page_is_safe(browser, page, [file_safe(name) for name in HOSTILE_NAMES], scripts=2)
    exported = list(csv.DictReader(browser.execute_script("return window.reviewCsv()").splitlines()))
    assert [row["image"] for row in exported] == images  # the names survive data -> page -> export
