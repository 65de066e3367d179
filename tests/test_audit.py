"""Dataset audit: planted leakage and label conflict are found, reversal pairs are not conflicts."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from obstacles.commands.audit import run
from obstacles.curation.audit import bce_loss
from obstacles.infra.config import compose
from obstacles.io.images import decode_image, encode_jpeg
from tests.helpers.commands import offline_wandb
from tests.helpers.html import HOSTILE_NAMES, assert_page_is_safe, hostile_stems
from tests.helpers.training import RUN_NAME, write_pair_dataset

PAIRS = "datasets/tiny/pairs"  # where write_pair_dataset puts the images; manifest paths are root-relative
TRAIN_IMAGE = f"{PAIRS}/train/obstacle/site_a__pair_0001.jpg"  # copied into eval: leakage
RELABELED = f"{PAIRS}/train/no_obstacle/site_b__pair_0010.jpg"  # re-encoded, filed as obstacle: conflict
REVERSED_OF = f"{PAIRS}/train/obstacle/site_b__pair_0009.jpg"  # its "_reversed" twin, labelled no_obstacle


def plant(root, dataset, relative: str, data: bytes, split: str, label: str) -> None:
    """Add one image (`relative` to root) and its manifest row to the dataset."""
    (root / relative).write_bytes(data)
    manifest = pd.read_csv(dataset / "manifest.csv")
    row = {
        "path": relative,
        "site": relative.split("/")[-1].split("__")[0],
        "split": split,
        "label": label,
        "sha256": hashlib.sha256(data).hexdigest(),
        "diff_metric": 0.1,
        "pixel_threshold": 50,
    }
    pd.concat([manifest, pd.DataFrame([row])]).to_csv(dataset / "manifest.csv", index=False)


@pytest.fixture(scope="module")
def audited(tmp_path_factory, trained_run):
    root = tmp_path_factory.mktemp("audit")
    trained_run(root)
    dataset = root / "datasets" / "tiny"
    copy = (root / TRAIN_IMAGE).read_bytes()
    plant(root, dataset, f"{PAIRS}/eval/obstacle/site_a__pair_0001_again.jpg", copy, "eval", "obstacle")
    reencoded = encode_jpeg(decode_image(root / RELABELED), 95)
    plant(root, dataset, f"{PAIRS}/train/obstacle/site_b__pair_0010_relabeled.jpg", reencoded, "train", "obstacle")
    # the same bytes as its original, so the pair is surely a near-duplicate: only the name excuses it
    plant(
        root,
        dataset,
        f"{PAIRS}/train/no_obstacle/site_b__pair_0009_reversed.jpg",
        (root / REVERSED_OF).read_bytes(),
        "train",
        "no_obstacle",
    )
    cfg = compose("audit", [f"paths.root_dir={root}", "dataset.name=tiny", "dup_thresh=0.99999", "top_surprising=5"])
    with offline_wandb(root):  # W&B offline, its files inside root
        out = run(cfg)
    return root, out


def test_planted_train_eval_duplicate_is_leakage(audited):
    _, out = audited
    leakage = pd.read_csv(out / "leakage.csv")
    planted = leakage[leakage["path_b"] == f"{PAIRS}/eval/obstacle/site_a__pair_0001_again.jpg"]
    assert planted["path_a"].tolist() == [TRAIN_IMAGE] and planted["similarity"].tolist() == [1.0]
    order = {"train": 0, "val": 1, "eval": 2}
    assert (leakage["split_a"].map(order) < leakage["split_b"].map(order)).all(), "side a is the earlier split"


def test_planted_label_conflict_is_found_and_reversal_pairs_are_not(audited):
    _, out = audited
    conflicts = pd.read_csv(out / "label_conflicts.csv")
    pairs = set(zip(conflicts["path_a"], conflicts["path_b"]))
    assert (f"{PAIRS}/train/obstacle/site_b__pair_0010_relabeled.jpg", RELABELED) in pairs
    assert not any("_reversed" in a + b for a, b in pairs)
    assert (conflicts["label_a"] == "obstacle").all() and (conflicts["label_b"] == "no_obstacle").all()
    assert conflicts["similarity"].ge(0.99999).all()


def test_surprising_images_are_ranked_by_loss_and_reported(audited):
    root, out = audited
    surprising = pd.read_csv(out / "surprising.csv")
    assert len(surprising) == 5 and surprising["loss"].is_monotonic_decreasing
    expected = bce_loss(
        np.log(surprising["score"] / (1 - surprising["score"])).to_numpy(),
        (surprising["label"] == "obstacle").to_numpy(),
    )
    np.testing.assert_allclose(surprising["loss"], expected, rtol=1e-4)
    page = (out / "index.html").read_text()
    assert "leakage (" in page and f"../../../{PAIRS}/eval/obstacle/site_a__pair_0001_again.jpg" in page
    (record,) = root.glob("wandb/offline-run-*/run-*.wandb")
    data = record.read_bytes()
    assert all(name in data for name in (b"leakage", b"label_conflicts", b"surprising"))


def test_the_model_is_the_checkpoint_of_ckpt_path_and_no_other_embedder(audited, tmp_path):
    """conf/embedder/checkpoint.yaml takes the top-level ckpt_path= (default: the latest run); the
    surprising list needs the classifier's logits, so embedder=timm is refused."""
    root, out = audited
    best = root / "experiments" / RUN_NAME / "checkpoints" / "best.ckpt"
    assert json.loads((out / "summary.json").read_text())["checkpoint"] == str(best)

    def audit_cfg(*overrides: str):
        common = [f"paths.root_dir={root}", "dataset.name=tiny", "wandb.enabled=false", f"out_dir={tmp_path / 'out'}"]
        return compose("audit", [*common, *overrides])

    pinned = run(audit_cfg(f"ckpt_path={best.parent.parent}"))  # a run folder: its best checkpoint
    assert json.loads((pinned / "summary.json").read_text())["checkpoint"] == str(best)
    with pytest.raises(FileNotFoundError, match=f"checkpoint {tmp_path / 'missing.ckpt'}: no such file"):
        run(audit_cfg(f"ckpt_path={tmp_path / 'missing.ckpt'}"))
    with pytest.raises(ValueError, match=r"needs the trained classifier \(embedder=checkpoint\), not timm field_cnn"):
        run(audit_cfg("embedder=timm", "embedder.backbone=field_cnn"))


def test_bce_loss_is_finite_for_extreme_logits():
    loss = bce_loss(np.array([1000.0, -1000.0, 0.0]), np.array([False, True, True]))
    np.testing.assert_allclose(loss, [1000.0, 1000.0, np.log(2.0)])


def hostile_dataset(root, name: str):
    """A dataset (folder name included) whose images carry the hostile names, plus a planted
    train/eval duplicate and a relabeled copy, so all three sections show hostile paths."""
    dataset = write_pair_dataset(root, name, n_pairs=len(HOSTILE_NAMES))
    manifest = pd.read_csv(dataset / "manifest.csv")
    paths = []
    for path, stem in zip(manifest["path"], hostile_stems()):
        renamed = f"{path.rsplit('/', 1)[0]}/{stem}.jpg"
        (root / path).rename(root / renamed)
        paths.append(renamed)
    manifest.assign(path=paths).to_csv(dataset / "manifest.csv", index=False)
    first = root / paths[0]
    pairs = f"datasets/{name}/pairs"
    again, relabeled = (
        f"{pairs}/eval/no_obstacle/{first.stem} again.jpg",
        f"{pairs}/train/obstacle/{first.stem} relabeled.jpg",
    )
    plant(root, dataset, again, first.read_bytes(), "eval", "no_obstacle")
    plant(root, dataset, relabeled, first.read_bytes(), "train", "obstacle")
    return dataset, [*paths, again, relabeled]


@pytest.mark.browser
def test_hostile_image_and_dataset_names_neither_run_script_nor_break_the_page(audited, browser):
    root, _ = audited
    name = HOSTILE_NAMES[4]
    _, paths = hostile_dataset(root, name)
    overrides = ["dup_thresh=0.99999", "top_surprising=100", "wandb.enabled=false"]  # every image listed
    cfg = compose("audit", [f"paths.root_dir={root}", *overrides])
    cfg.dataset.name = name  # after composing: Hydra's override grammar has no room for these characters
    out = run(cfg)
    assert len(pd.read_csv(out / "leakage.csv")) and len(pd.read_csv(out / "label_conflicts.csv"))
    assert_page_is_safe(browser, out / "index.html", [f"Audit of {name}", *paths])
