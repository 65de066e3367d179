"""Out-of-fold label issues: confident learning finds planted flips, folds keep bursts whole, and
the command (K real fold trainings on tiny data) ranks planted flipped labels at the top."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from obstacles.commands.label_issues import run
from obstacles.curation.confident import ensemble_score, find_label_issues, look_alike_score, precision_recall_at_k
from obstacles.curation.folds import FOLD_SCORED, assign_folds, capture_groups, fold_manifest
from obstacles.curation.label_issues import ISSUE_COLUMNS, FoldPlan, pair_sources, rank_table, write_report
from obstacles.infra.config import compose
from obstacles.io.html import SheetLayout
from obstacles.io.manifests import deployed_scores
from obstacles.io.tables import TableError
from tests.helpers.commands import offline_wandb
from tests.helpers.html import HOSTILE_NAMES, assert_page_is_safe, hostile_stems
from tests.helpers.training import write_pair_dataset

FLIP = {"obstacle": "no_obstacle", "no_obstacle": "obstacle"}
# a recipe short enough for a test, long enough that the field CNN separates the tiny classes
RECIPE = [
    "model=field_cnn",
    "trainer.max_epochs=15",
    "data.batch_size=8",
    "data.num_workers=0",
    "model.optimizer.lr=1e-2",
    "weighting=none",
]
N_PAIRS, EVERY_NTH_TRAIN, N_FLIPS = 64, 7, 4


def test_confident_learning_flags_planted_flips_first():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 50)
    score = np.clip(np.where(labels == 1, rng.uniform(0.6, 0.95, 100), rng.uniform(0.05, 0.4, 100)), 0, 1)
    flipped = np.array([3, 17, 60, 88])
    given = labels.copy()
    given[flipped] = 1 - given[flipped]
    found = find_label_issues(score, given)
    flagged = set(np.flatnonzero(found.flagged))
    assert flagged and flagged <= set(flipped), "only flips are flagged (a flip below a threshold may not be)"
    ranked = np.argsort(found.rank)
    assert set(ranked[: len(flipped)]) == set(flipped)
    assert precision_recall_at_k(np.isin(ranked, flipped), len(flipped)) == (1.0, 1.0)


def test_confident_thresholds_are_per_class_not_one_half():
    """A model that scores obstacles only around 0.63: a no_obstacle pair at 0.52 is not confidently
    an obstacle (a 0.5 cut would flag it), one at 0.65 is."""
    given = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    score = np.array([0.1, 0.2, 0.52, 0.65, 0.6, 0.62, 0.64, 0.66])
    found = find_label_issues(score, given)
    assert np.flatnonzero(found.flagged).tolist() == [3] and found.rank[3] == 1


def test_a_label_that_follows_by_construction_is_never_a_candidate():
    """A reversed copy the models score as the other class is no labelling mistake: not flagged,
    ranked after every candidate, and its score leaves the candidates' thresholds alone."""
    given = np.array([0, 0, 0, 1, 1, 1, 0])
    score = np.array([0.1, 0.2, 0.9, 0.8, 0.9, 0.85, 0.99])  # pair 6: a reversed copy, scored obstacle
    candidates = np.array([True] * 6 + [False])
    found = find_label_issues(score, given, candidates)
    assert np.flatnonzero(found.flagged).tolist() == [2] and found.rank[2] == 1 and found.rank[6] == 7
    assert found.thresholds[0] == pytest.approx(1 - np.mean([0.1, 0.2, 0.9]))
    assert find_label_issues(score, given).flagged[6], "as a candidate it would be flagged"


def test_opinions_average_where_they_exist_and_the_fallback_decides_alone():
    opinions = {
        "out_of_fold": np.array([0.9, 0.2, 0.6, 0.3]),
        "deployed": np.array([0.1, np.nan, 0.6, np.nan]),
        "look_alikes": np.array([0.2, 0.8, np.nan, np.nan]),
    }
    even = {"out_of_fold": 1.0, "deployed": 1.0, "look_alikes": 1.0}
    assert ensemble_score(opinions, even, "out_of_fold").tolist() == pytest.approx([0.4, 0.5, 0.6, 0.3])
    deployed_only = {"out_of_fold": 0.0, "deployed": 2.0, "look_alikes": 0.0}
    assert ensemble_score(opinions, deployed_only, "out_of_fold").tolist() == pytest.approx([0.1, 0.2, 0.6, 0.3])
    for bad in ({**even, "deployed": -1.0}, {**even, "deployed": float("nan")}, dict.fromkeys(even, 0.0)):
        with pytest.raises(ValueError, match="finite, at least 0, and not all 0"):
            ensemble_score(opinions, bad, "out_of_fold")
    with pytest.raises(ValueError, match="weights for"):
        ensemble_score(opinions, {"out_of_fold": 1.0}, "out_of_fold")
    with pytest.raises(ValueError, match="fallback opinion 'deployed' is missing for 2"):
        ensemble_score(opinions, even, "deployed")


def test_look_alikes_vote_with_their_labels_but_never_a_pairs_own_copies():
    """Two tight clusters (bursts) per pool. In pool 0, pair 2 is labelled against its burst and
    pair 3 is its reversed copy (same source), which must not vote for it. Pool 1 holds the same
    vectors with every label 0: were pools mixed, its twins would outvote pool 0's labels."""
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    cluster = centres[[0] * 5 + [1] * 5] + rng.normal(0, 0.01, (10, 3))
    vectors = np.concatenate([cluster, cluster])
    labels = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0] + [0] * 10)
    source = np.array([f"{pool}/{name}" for pool in "pq" for name in "abccefghij"])
    pool = np.repeat([0, 1], 10)
    score = look_alike_score(vectors, labels, pool, source, k=3)
    assert score[2] == pytest.approx(1.0), "its three look-alikes are labelled 1; its own copy (0) does not vote"
    assert score[7] == 0.0 and (score[10:] == 0.0).all(), "pool 1's labels alone"
    lonely = look_alike_score(vectors[:2], labels[:2], np.zeros(2), np.array(["x", "x"]), k=3)
    assert np.isnan(lonely).all(), "no other source: no opinion"
    with pytest.raises(ValueError, match="at least 1"):
        look_alike_score(vectors, labels, pool, source, k=0)


def test_a_reversed_copy_shares_its_frames_source_across_class_folders():
    """The merged layout puts a reversed copy in the other class's folder: it is still its frame's
    copy (and so never its look-alike), while the same stem at another site is another frame."""
    pairs = pd.DataFrame(
        {
            "path": [
                "datasets/a/no_mask_train/obstacle/cam_2022-09-10T16-41-41.jpg",
                "datasets/a/no_mask_train/no_obstacle/cam_2022-09-10T16-41-41_reversed.jpg",
                "datasets/b/no_mask_train/obstacle/cam_2022-09-10T16-41-41.jpg",
            ],
            "site": ["a", "a", "b"],
        }
    )
    sources = pair_sources(pairs, "_reversed")
    assert sources[0] == sources[1] != sources[2]


def test_look_alikes_in_blocks_match_every_pair_compared_at_once(monkeypatch):
    """Similarities are computed a block of rows at a time (memory): the votes do not depend on it."""
    import obstacles.curation.confident as confident

    rng = np.random.default_rng(1)
    vectors, labels = rng.normal(size=(40, 6)), rng.integers(0, 2, 40)
    source, pool = np.array([str(k // 2) for k in range(40)]), np.arange(40) % 3
    whole = look_alike_score(vectors, labels, pool, source, k=4)
    monkeypatch.setattr(confident, "SIMILARITY_ROWS", 3)
    assert np.array_equal(look_alike_score(vectors, labels, pool, source, k=4), whole)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    for row in (0, 17, 39):
        others = np.flatnonzero((pool == pool[row]) & (source != source[row]))
        nearest = others[np.argsort(-(unit[others] @ unit[row]))[:4]]
        assert whole[row] == pytest.approx(labels[nearest].mean())


def test_bad_fold_settings_stop_before_any_training(tmp_path):
    plan = dict(seed=0, burst_gap_s=60.0, reversed_suffix="_r", train_overrides=(), work_dir=tmp_path, batch_size=8)
    with pytest.raises(ValueError, match="look_alike_k must be at least 1, got 0"):
        FoldPlan(k=5, look_alike_k=0, **plan)
    with pytest.raises(ValueError, match="folds must be at least 2, got 1"):
        FoldPlan(k=1, look_alike_k=5, **plan)
    write_pair_dataset(tmp_path, n_pairs=8, panel=16)
    cfg = label_issues_cfg(tmp_path, "opinions.deployed=-1")
    with pytest.raises(ValueError, match="opinion weights must be finite"):
        run(cfg)
    assert not (tmp_path / ".cache").exists(), "nothing was trained or written"


def test_the_deployed_opinion_clears_a_fold_models_blind_spot_and_reversed_copies_rank_last():
    """Pair 1's fold model is confidently wrong (a blind spot) while the deployed model agrees with
    the label; pair 2 is truly flipped (both opinions disagree with it); pair 5 is a reversed copy
    the fold model calls an obstacle and that has no deployed score."""
    train = pd.DataFrame(
        {
            "path": [f"d/s/img_{k}.jpg" for k in range(5)] + ["d/s/img_0_reversed.jpg"],
            "site": "s",
            "label": ["obstacle", "no_obstacle", "no_obstacle", "obstacle", "no_obstacle", "no_obstacle"],
            "deployed_score": [0.9, 0.05, 0.95, 0.8, np.nan, np.nan],  # as read: io.manifests.deployed_scores
        }
    )
    oof = np.array([0.8, 0.97, 0.9, 0.7, 0.2, 0.96])
    look_alikes = np.full(6, np.nan)
    both = {"out_of_fold": 1.0, "deployed": 1.0, "look_alikes": 0.0}
    ranked, _ = rank_table(train, np.zeros(6, int), oof, look_alikes, weights=both, reversed_suffix="_reversed")
    assert ranked["path"].iloc[0] == "d/s/img_2.jpg" and ranked["flagged"].tolist()[0]
    assert not ranked.set_index("path").loc["d/s/img_1.jpg", "flagged"]
    assert ranked["path"].iloc[-1] == "d/s/img_0_reversed.jpg" and ranked["reversed_copy"].iloc[-1]
    assert "out-of-fold 0.900, deployed 0.950)" in ranked["why"].iloc[0]
    alone = {"out_of_fold": 1.0, "deployed": 0.0, "look_alikes": 0.0}
    fold_only, _ = rank_table(train, np.zeros(6, int), oof, look_alikes, weights=alone, reversed_suffix="_reversed")
    assert fold_only.set_index("path").loc["d/s/img_1.jpg", "rank"] == 1, (
        "the fold model alone ranks its blind spot first"
    )


def test_look_alikes_clear_a_blind_spot_that_the_models_share():
    """Pair 1 is a scene both models call an obstacle, but its look-alikes are labelled as it is;
    pair 2 is labelled against its look-alikes and the models: only pair 2 is flagged."""
    train = pd.DataFrame(
        {
            "path": [f"d/s/img_{k}.jpg" for k in range(6)],
            "site": "s",
            "label": ["obstacle", "no_obstacle", "no_obstacle", "obstacle", "no_obstacle", "obstacle"],
            "deployed_score": [0.9, 0.9, 0.9, 0.8, 0.1, 0.7],
        }
    )
    oof = np.array([0.8, 0.9, 0.9, 0.7, 0.2, 0.8])
    look_alikes = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    even = {"out_of_fold": 1.0, "deployed": 1.0, "look_alikes": 1.0}
    ranked, _ = rank_table(train, np.zeros(6, int), oof, look_alikes, weights=even, reversed_suffix="_reversed")
    flagged = ranked.loc[ranked["flagged"], "path"].tolist()
    assert flagged == ["d/s/img_2.jpg"] and "look-alikes 1.000" in ranked["why"].iloc[0]
    models, _ = rank_table(
        train, np.zeros(6, int), oof, look_alikes, weights={**even, "look_alikes": 0.0}, reversed_suffix="_reversed"
    )
    assert models["flagged"].sum() == 2, "without the look-alikes the shared blind spot is flagged too"


def test_a_deployed_score_that_is_not_a_probability_is_named_with_its_file_and_line():
    """Empty cells are pairs the deployed model never scored; NaN, text or a score outside [0, 1] is
    bad input (the label issues and the champion comparison read the column alike)."""
    read = deployed_scores(pd.Series(["0.25", "", None, "1"]), "m.csv")
    assert read.iloc[[0, 3]].tolist() == [0.25, 1.0] and read.iloc[[1, 2]].isna().all()
    for bad, line in (("1.7", 5), ("nan", 5), ("high", 5), ("-0.1", 5)):
        with pytest.raises(TableError, match=rf"^m\.csv, line {line}: deployed_score '{bad}' is not a score"):
            deployed_scores(pd.Series(["0.25", "", None, bad]), "m.csv")


def test_bursts_never_straddle_folds_and_folds_hold_both_classes():
    minutes = [0, 0, 0, 5, 5, 10, 10, 10, 20, 30, 40, 50]
    paths = [f"d/site_a/x/img_2022-09-07T06-{m:02d}-{s:02d}.jpg" for s, m in enumerate(minutes)]
    paths[1] = paths[0].replace(".jpg", "_reversed.jpg")
    frame = pd.DataFrame({"path": paths, "site": "site_a", "label": ["obstacle", "no_obstacle"] * 6})
    groups = capture_groups(frame, 60.0, "_reversed")
    assert groups[0] == groups[1] == groups[2] and groups[3] == groups[4] and groups[3] != groups[2]
    folds = assign_folds(np.arange(12) % 2, groups, 3, seed=0)
    for group in np.unique(groups):
        assert len(set(folds[groups == group])) == 1
    with pytest.raises(ValueError, match="too few for 20 folds"):
        assign_folds(np.arange(12) % 2, groups, 20, seed=0)


def test_fold_manifest_validates_on_val_and_holds_out_one_fold():
    frame = pd.DataFrame({"path": list("abcdefg"), "split": ["train"] * 4 + ["val", "eval", "eval"]})
    manifest = fold_manifest(frame, np.array([0, 1, 0, 1]), fold=1)
    assert dict(zip(manifest["path"], manifest["split"])) == {
        "a": "train",
        "b": FOLD_SCORED,
        "c": "train",
        "d": FOLD_SCORED,
        "e": "val",
    }


def flipped_dataset(root):
    dataset = write_pair_dataset(root, n_pairs=N_PAIRS, panel=32)
    manifest = pd.read_csv(dataset / "manifest.csv")
    flips = manifest.index[manifest["split"] == "train"][::EVERY_NTH_TRAIN][:N_FLIPS]
    manifest.loc[flips, "label"] = manifest.loc[flips, "label"].map(FLIP)
    manifest["deployed_score"] = 0.5
    manifest.to_csv(dataset / "manifest.csv", index=False)
    return set(manifest.loc[flips, "path"])


def label_issues_cfg(root, *overrides):
    cfg = compose("label_issues", [f"paths.root_dir={root}", "dataset.name=tiny", "folds=3", *overrides])
    cfg.train_overrides = OmegaConf.create(RECIPE)  # list items holding `=`: set after composing
    return cfg


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    root = tmp_path_factory.mktemp("label-issues")
    flips = flipped_dataset(root)
    with offline_wandb(root):
        out = run(label_issues_cfg(root))
    return root, out, flips


@pytest.mark.slow  # trains 3 fold models (about 35 s): make test-slow
def test_planted_flipped_labels_are_found_at_the_top(found):
    _, out, flips = found
    scores = pd.read_csv(out / "oof_scores.csv").sort_values("rank")
    assert len(scores) == N_PAIRS // 2 and scores["oof_score"].between(0, 1).all()
    precision, recall = precision_recall_at_k(scores["path"].isin(flips).to_numpy(), len(flips))
    assert precision >= 0.5, scores.head(10)
    issues = pd.read_csv(out / "label_issues.csv")
    assert list(issues.columns) == list(ISSUE_COLUMNS)
    assert issues["rank"].is_monotonic_increasing and issues["why"].str.contains("never saw it").all()
    assert len(flips & set(issues["path"])) >= len(flips) // 2


@pytest.mark.slow  # trains 3 fold models (about 35 s): make test-slow
def test_every_pair_is_scored_by_the_fold_model_that_left_it_out(found):
    root, out, _ = found
    scores = pd.read_csv(out / "oof_scores.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["folds"] == 3 and summary["trained"] == 3 and sum(summary["fold_sizes"]) == len(scores)
    for fold in range(3):
        manifest = pd.read_csv(root / ".cache/label_issues/tiny" / f"fold_{fold}" / "manifest.csv")
        held = set(manifest.loc[manifest["split"] == FOLD_SCORED, "path"])
        assert held == set(scores.loc[scores["fold"] == fold, "path"])
        assert not held & set(manifest.loc[manifest["split"] == "train", "path"])
    page = (out / "index.html").read_text()
    assert "out-of-fold score" in page and "deployed score 0.500" in page and "look-alikes" in page
    assert scores["look_alike_score"].between(0, 1).all()
    (record,) = root.glob("wandb/offline-run-*/run-*.wandb")
    assert b"label_issues" in record.read_bytes() and b"oof_scores" in record.read_bytes()


@pytest.mark.slow  # trains 3 fold models (about 35 s): make test-slow
def test_a_second_call_reuses_the_fold_runs(found, tmp_path):
    root, _, _ = found
    out = run(label_issues_cfg(root, "wandb.enabled=false", f"out_dir={tmp_path / 'again'}"))
    assert json.loads((out / "summary.json").read_text())["trained"] == 0


@pytest.mark.slow
@pytest.mark.browser
def test_hostile_names_neither_run_script_nor_break_the_issue_page(found, browser, tmp_path):
    """The report of pairs (and a dataset) carrying the hostile names: every flagged pair is shown."""
    root, out, _ = found
    scores = pd.read_csv(out / "oof_scores.csv")
    hostile = scores.head(len(HOSTILE_NAMES)).copy()
    paths = []
    for path, stem in zip(hostile["path"], hostile_stems()):
        target = f"{path.rsplit('/', 1)[0]}/{stem}.jpg"
        (root / target).write_bytes((root / path).read_bytes())
        paths.append(target)
    hostile["path"] = paths
    hostile["site"] = HOSTILE_NAMES[3]
    hostile["flagged"] = True
    hostile["why"] = HOSTILE_NAMES[2]
    title = f"Out-of-fold label issues of {HOSTILE_NAMES[4]}"
    page = write_report(
        tmp_path / HOSTILE_NAMES[5] / "report", hostile, hostile, {}, root, title=title, page=SheetLayout(80, 100)
    )
    assert_page_is_safe(browser, page / "index.html", [title, HOSTILE_NAMES[3], *paths])
