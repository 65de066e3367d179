"""The data map: a planted region that eval never sees is flagged, the flags' rules hold on
hand-made clusters, and the page escapes hostile names in headless Chromium."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from obstacles.commands.data_map import run
from obstacles.curation.data_map import HIGH_ERROR, cluster_table
from obstacles.curation.settings import MapSettings
from obstacles.infra.config import compose
from obstacles.io.images import encode_jpeg
from tests.helpers.commands import offline_wandb
from tests.helpers.html import HOSTILE_NAMES, assert_page_is_safe, hostile_stems

SETTINGS = MapSettings(pca_dims=50, perplexity=30, clusters=4, seed=0, threshold=0.5, error_gap=0.25, min_judged=5)
N_PLANTED = 8
PANEL = 32


def test_clusters_absent_from_a_split_or_with_high_error_are_flagged():
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame(
        {
            "cluster": np.repeat([0, 1, 2, 3], n // 4),
            "split": np.tile(["train", "train", "val", "eval", "eval"], n // 5)[:n],
            "is_obstacle": rng.integers(0, 2, n).astype(bool),
        }
    )
    frame["label"] = np.where(frame["is_obstacle"], "obstacle", "no_obstacle")
    frame.loc[frame["cluster"] == 1, "split"] = "train"  # cluster 1: never judged
    frame["score"] = np.where(frame["is_obstacle"], 0.9, 0.1)
    wrong = (frame["cluster"] == 2).to_numpy()
    frame.loc[wrong, "score"] = 1.0 - frame.loc[wrong, "score"]  # cluster 2: the model is always wrong
    frame["loss"] = 0.1
    table = cluster_table(frame, SETTINGS).set_index("cluster")
    assert table.loc[1, "flags"] == "absent from val; absent from eval" and table.loc[1, "share_train"] == 1.0
    assert table.loc[2, "flags"] == HIGH_ERROR and table.loc[2, "error_eval"] == 1.0
    assert table.loc[0, "flags"] == "" and table.loc[3, "flags"] == ""
    assert table["size"].sum() == n


def plant_region(root, names: list[str]) -> list[str]:
    """Pairs unlike any other (a checkerboard where the scenes are smooth), all in train."""
    manifest_path = root / "datasets" / "tiny" / "manifest.csv"
    manifest = pd.read_csv(manifest_path)
    rng = np.random.default_rng(3)
    rows, paths = [], []
    for k, name in enumerate(names):
        board = ((np.indices((PANEL, PANEL)).sum(axis=0) // 4) % 2 * 255).astype(np.uint8)
        image = np.repeat(board[:, :, None], 3, axis=2)
        image = np.clip(image.astype(int) + rng.integers(-8, 9, image.shape), 0, 255).astype(np.uint8)
        data = encode_jpeg(np.concatenate([image, image[:, ::-1]], axis=1), quality=95)
        label = "obstacle" if k % 2 else "no_obstacle"
        relative = f"datasets/tiny/pairs/train/{label}/{name}.jpg"
        (root / relative).write_bytes(data)
        paths.append(relative)
        rows.append(
            {
                "path": relative,
                "site": "site_c",
                "split": "train",
                "label": label,
                "sha256": hashlib.sha256(data).hexdigest(),
                "diff_metric": 0.1,
                "pixel_threshold": 50,
            }
        )
    pd.concat([manifest, pd.DataFrame(rows)]).to_csv(manifest_path, index=False)
    return paths


@pytest.fixture(scope="module")
def mapped(tmp_path_factory, trained_run):
    root = tmp_path_factory.mktemp("map")
    trained_run(root)
    planted = plant_region(root, [f"checker_{k}" for k in range(N_PLANTED)])
    cfg = compose("data_map", [f"paths.root_dir={root}", "dataset.name=tiny", "clusters=3", "perplexity=5"])
    with offline_wandb(root):
        out = run(cfg)
    return root, out, planted


def test_a_region_missing_from_eval_is_flagged(mapped):
    _, out, planted = mapped
    points = pd.read_csv(out / "points.csv")
    clusters = pd.read_csv(out / "clusters.csv", keep_default_na=False).set_index("cluster")
    (planted_cluster,) = set(points.loc[points["path"].isin(planted), "cluster"])
    assert "absent from eval" in clusters.loc[planted_cluster, "flags"]
    assert clusters["size"].sum() == len(points) and {"x", "y", "loss", "deployed_score"} <= set(points.columns)
    for field in ("split", "label", "site", "loss", "deployed_score"):
        assert (out / f"map_{field}.png").stat().st_size > 0
    page = (out / "index.html").read_text()
    assert "absent from eval" in page and "colour-by" in page


def test_the_map_goes_to_wandb(mapped):
    root, _, _ = mapped
    (record,) = root.glob("wandb/offline-run-*/run-*.wandb")
    data = record.read_bytes()
    assert b"map/clusters" in data and b"map/map_split" in data


@pytest.mark.browser
def test_hostile_names_neither_run_script_nor_break_the_map(mapped, browser, tmp_path):
    root, _, _ = mapped
    names = plant_region(root, hostile_stems())
    cfg = compose("data_map", [f"paths.root_dir={root}", "dataset.name=tiny", "wandb.enabled=false"])
    cfg.out_dir = str(tmp_path / HOSTILE_NAMES[2] / "map")  # a hostile folder name too
    out = run(cfg)
    assert_page_is_safe(browser, out / "index.html", names, scripts=2)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    for field in ("label", "loss", "deployed_score"):
        browser.execute_script(
            f"const s = document.getElementById('colour-by'); s.value = '{field}';s.dispatchEvent(new Event('change'));"
        )
    dot = browser.find_elements(By.CSS_SELECTOR, "#scatter circle")[-1]
    ActionChains(browser).click(dot).perform()
    assert browser.execute_script("return document.querySelector('#preview-image img').naturalWidth") > 0
    assert names[-1] in browser.find_element(By.ID, "preview-text").text
    assert browser.execute_script("return window.__dialogs") == []
