"""Review order by value: disagreement, uncertainty and out-of-fold label issues first; the page
in value order keeps its keys and export, and survives hostile names in headless Chromium."""

from __future__ import annotations

import csv
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from obstacles.commands.review import run
from obstacles.curation.label_issues import ISSUE_COLUMNS
from obstacles.curation.review import read_issues
from obstacles.curation.review_value import ValueWeights, site_issues, value_fields, value_order
from obstacles.stages import src
from tests.helpers.curation import SITE, index_rows, page_data, review_cfg, simulated_recording
from tests.helpers.html import HOSTILE_NAMES, assert_page_is_safe, file_safe, rename_to_hostile

WEIGHTS = ValueWeights(issue=1.0, disagreement=1.0, uncertainty=0.5, threshold=0.5)


def test_a_planted_disagreement_comes_first_then_uncertainty():
    deployed = np.array([0.1, 0.9, 0.95, 0.2, 0.45])
    model = np.array([0.12, 0.88, 0.04, 0.21, 0.48])  # frame 2: deployed says obstacle, model says not
    fields = value_fields(deployed, model, [None] * 5, WEIGHTS)
    order = value_order(fields, [f"f{k}" for k in range(5)])
    assert order[:2] == [2, 4], "the disagreement, then the frame the model is unsure about"
    assert "disagree" in fields[2]["why"] and "disagree" not in fields[4]["why"]
    assert fields[2]["terms"]["disagreement"] == pytest.approx(0.91)


def test_a_flagged_label_issue_outranks_a_mild_disagreement():
    deployed, model = np.array([0.9, 0.1, 0.6]), np.array([0.9, 0.1, 0.2])
    issue = {"rank": 3, "label": "obstacle", "path": "datasets/x/no_mask_train/obstacle/b_reversed.jpg"}
    fields = value_fields(deployed, model, [None, issue, None], WEIGHTS)
    assert value_order(fields, ["a", "b", "c"])[0] == 1
    assert "out-of-fold label issue #3" in fields[1]["why"]


def test_issues_map_to_their_frame_through_the_reversed_copy():
    issues = pd.DataFrame(
        {
            "rank": [5, 2, 9],
            "path": ["d/s1/a/f1.jpg", "d/s1/a/f1_reversed.jpg", "d/s2/a/f1.jpg"],
            "site": ["s1", "s1", "s2"],
            "label": ["obstacle", "no_obstacle", "obstacle"],
        }
    )
    found = site_issues(issues, "s1", "_reversed")
    assert list(found) == ["f1"] and found["f1"]["rank"] == 2


@pytest.fixture
def scored(tmp_path, trained_run):
    """A triaged recording and a trained model (the curation tools' tiny run)."""
    trained_run(tmp_path)
    simulated_recording(tmp_path, n_frames=12, panel=48)
    shutil.move(tmp_path / "labels" / f"{SITE}.csv", tmp_path / "simulated_labels.csv")
    src.run(review_cfg(tmp_path))
    return tmp_path


def write_scores(root, scores: dict[str, float]) -> None:
    """Plant deployed scores in the site's triage index (what the page shows as the deployed score)."""
    index = root / "datasets" / SITE / "src" / "index.csv"
    rows = index_rows(root)
    for row in rows:
        row["score"] = f"{scores[row['image']]:.6f}"
    with index.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_page_in_value_order_puts_a_planted_disagreement_then_a_label_issue_first(scored):
    default = page_data(run(review_cfg(scored)))
    assert default["order"] == "file" and "value" not in default["items"][0]
    model = {i["image"]: i["model_score"] for i in page_data(run(review_cfg(scored, "order=value")))["items"]}
    planted = min(model, key=model.get)  # the model's most confident no_obstacle: deployed now says 1.0
    write_scores(scored, {image: 1.0 if image == planted else score for image, score in model.items()})
    data = page_data(run(review_cfg(scored, "order=value")))
    by_file = page_data(run(review_cfg(scored)))
    assert data["order"] == "value" and data["fingerprint"] == by_file["fingerprint"]  # edits carry over
    items = data["items"]
    first = max(items, key=lambda i: i["value"])
    assert first["image"] == planted and "disagree" in first["why"]

    flagged = sorted(model)[3]
    issues = scored / "reports" / "label_issues" / "demo_balanced"
    issues.mkdir(parents=True)
    path = f"datasets/{SITE}/no_mask_train/obstacle/{flagged.removesuffix('.jpg')}_reversed.jpg"
    row = {"rank": 1, "path": path, "site": SITE, "label": "no_obstacle", "oof_score": 0.97, "issue_score": 0.97}
    row |= {"why": "labelled no_obstacle, but ...", "fold": 0}
    pd.DataFrame([row]).reindex(columns=ISSUE_COLUMNS).to_csv(issues / "label_issues.csv", index=False)
    items = page_data(run(review_cfg(scored, "order=value")))["items"]
    ranked = sorted(items, key=lambda i: -i["value"])
    assert [i["image"] for i in ranked[:2]] == [flagged, planted]
    assert "out-of-fold label issue #1" in ranked[0]["why"]


@pytest.mark.browser
def test_value_order_page_keeps_keys_and_export_and_escapes_hostile_names(tmp_path, browser, trained_run):
    from selenium.webdriver.common.action_chains import ActionChains

    trained_run(tmp_path)
    recording = simulated_recording(tmp_path, n_frames=len(HOSTILE_NAMES), panel=48)
    (tmp_path / "labels" / f"{SITE}.csv").unlink()
    for folder in ("images", "json"):
        rename_to_hostile(sorted((recording / folder).iterdir()))
    src.run(review_cfg(tmp_path))
    page = run(review_cfg(tmp_path, "order=value"))
    items = page_data(page)["items"]
    assert_page_is_safe(browser, page, [file_safe(name) for name in HOSTILE_NAMES], scripts=2)
    assert browser.execute_script("return document.getElementById('order').value") == "value"
    top = max(items, key=lambda i: (i["value"], [-ord(c) for c in i["image"]]))
    assert top["image"] in browser.find_element("id", "details").text
    assert "why here" in browser.find_element("id", "details").text
    ActionChains(browser).send_keys("s").perform()  # label the first frame in value order: skip
    exported = {
        r["image"]: r["label"] for r in csv.DictReader(browser.execute_script("return window.reviewCsv()").splitlines())
    }
    assert exported[top["image"]] == "skip" and len(exported) == len(HOSTILE_NAMES)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rank,path,site\n1,a.jpg,s\n", r"no column\(s\) \['label'\]"),
        ("rank,path,site,label\n1,a.jpg,s,obstacle\nfirst,b.jpg,s,obstacle\n", r"line 3: rank 'first'"),
        ("rank,path,site,label\n1.5,a.jpg,s,obstacle\n", r"line 2: rank .* is not a whole number"),
        ("", "not a label_issues.csv table"),
    ],
    ids=["missing-column", "word-rank", "fractional-rank", "empty"],
)
def test_a_malformed_issues_file_is_named_with_its_line(tmp_path, content, message):
    path = tmp_path / "label_issues.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}.*{message}"):
        read_issues(path)
    assert read_issues(tmp_path / "absent.csv") is None
