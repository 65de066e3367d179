"""The per-site chain and the merge, run in-process on a small hand-made recording."""

import csv
import json

import numpy as np
import pandas as pd
import pytest

from obstacles.infra import parallel
from obstacles.io.images import decode_image, split_panels
from obstacles.io.label_file import LabelFileError
from obstacles.io.provenance import file_sha256
from obstacles.lineage import splitting
from obstacles.lineage.names import MANIFEST_COLUMNS
from obstacles.stages import balanced, diff_metrics, mask_train, no_mask_train, split, src
from obstacles.stages import weights as weights_stage
from obstacles.weights import diff_metric
from tests.helpers.project import pipeline_cfg, tree_digest
from tests.helpers.recordings import stem, triplet, write_frame

SITE = "plant_202209_01"


def burst_stems(n_bursts=8, per_burst=3):
    """Bursts of frames 5 s apart, bursts 30 min apart."""
    stems = []
    for b in range(n_bursts):
        for f in range(per_burst):
            minute, second = b * 30, f * 5
            stems.append(
                f"1116_obstacles_classification_2022-09-07T{6 + minute // 60:02d}-{minute % 60:02d}-{second:02d}"
            )
    return stems


@pytest.fixture
def site(tmp_path, rng):
    """A triaged recording of 8 bursts (even bursts: obstacle) and its label file."""
    rec = tmp_path / "data" / "recordings" / SITE
    rows = []
    for i, name in enumerate(burst_stems()):
        obstacle = (i // 3) % 2 == 0
        write_frame(rec, name, 0.9 if obstacle else 0.1, triplet(rng, obstacle=obstacle))
        opposite = "no_obstacle" if obstacle and i % 3 == 0 else ""
        rows.append((f"{name}.jpg", "obstacle" if obstacle else "no_obstacle", opposite))
    rows[1] = (rows[1][0], "skip", "")
    write_labels(tmp_path, rows)
    cfg = pipeline_cfg(tmp_path, SITE, overrides=["split.eval_fraction=0.25"])
    src.run(cfg)
    return tmp_path, cfg, rows


def recorded_scores(root) -> dict[str, float]:
    """stem -> the deployed model's score, read straight from the recording's JSON files."""
    folder = root / "data" / "recordings" / SITE / "json"
    return {path.stem: json.loads(path.read_text())["dense"][0] for path in folder.glob("*.json")}


def write_labels(root, rows, header=("image", "label", "opposite_label")):
    (root / "labels").mkdir(exist_ok=True)
    with (root / "labels" / f"{SITE}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_src_lists_every_frame_with_its_recording_path_hash_and_band_and_copies_nothing(site):
    root, cfg, rows = site
    out = root / "datasets" / SITE / "src"
    assert sorted(p.name for p in out.iterdir()) == ["bad_inputs.csv", "index.csv"], "a manifest, no image"
    index = pd.read_csv(out / "index.csv")
    assert list(index.columns) == ["image", "path", "sha256", "score", "class", "band"]
    assert sorted(index["image"]) == sorted(r[0] for r in rows)
    for _, row in index.iterrows():
        assert row["path"] == f"data/recordings/{SITE}/images/{row['image']}", "relative to the project root"
        assert file_sha256(root / row["path"]) == row["sha256"]
        obstacle = row["score"] > 0.5  # 0.9 or 0.1: the class's 4th of 5 bands, or its 2nd
        assert (row["class"], row["band"]) == (
            ("classified_obstacle", "obs_between_0.85_0.93")
            if obstacle
            else ("classified_no_obstacle", "no_obs_between_0.07_0.13")
        )


def test_mask_train_lists_the_picks_with_the_recordings_path_and_hash(site):
    root, cfg, rows = site
    out = mask_train.run(cfg)
    assert out == root / "datasets" / SITE / "mask_train.csv"
    picks = pd.read_csv(out, keep_default_na=False)
    assert list(picks.columns) == ["image", "path", "sha256", "label", "opposite_label", "deployed_score"]
    chosen = [r for r in rows if r[1] != "skip" or r[2]]
    assert list(zip(picks["image"], picks["label"], picks["opposite_label"])) == chosen
    recorded = recorded_scores(root)
    for row in picks.itertuples():
        assert row.path == f"data/recordings/{SITE}/images/{row.image}"
        assert file_sha256(root / row.path) == row.sha256
        assert float(row.deployed_score) == pytest.approx(recorded[row.image[:-4]], abs=1e-6), "the JSON's dense[0]"
    assert rows[1][0] not in set(picks["image"]), "a skipped image without a reversed label is no pick"


@pytest.mark.parametrize(
    "row, message",
    [
        (("missing.jpg", "obstacle", ""), r":3: image 'missing.jpg' is not in"),
        (("../../../etc/passwd", "obstacle", ""), r":3: image '../../../etc/passwd' is a path outside the recording"),
        (("/etc/passwd", "obstacle", ""), r":3: .* is a path outside the recording"),
        (("sub/x.jpg", "obstacle", ""), r":3: .* must be a file name"),
        (("{first}", "obstacle", ""), r":3: image '.*' already labelled on line 2"),
        (("{second}", "cat", ""), r":3: unknown label 'cat'"),
        (("{second}", "obstacle", "maybe"), r":3: unknown opposite_label 'maybe'"),
    ],
)
def test_label_file_errors_name_file_and_line(site, row, message):
    root, cfg, rows = site
    first, second = rows[0][0], rows[1][0]
    bad_row = tuple(v.format(first=first, second=second) for v in row)
    write_labels(root, [rows[0], bad_row])
    with pytest.raises(LabelFileError, match=message) as error:
        mask_train.run(cfg)
    assert f"labels/{SITE}.csv" in str(error.value)
    assert not (root / "datasets" / SITE / "mask_train.csv").exists()


def test_label_file_errors_give_the_files_own_line_numbers(site):
    root, cfg, rows = site
    label_file = root / "labels" / f"{SITE}.csv"
    lines = ["image,label,opposite_label", ",".join(rows[0]), "", "", ",".join(rows[2]), f"{rows[3][0]},maybe,"]
    label_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(LabelFileError, match=f"{SITE}.csv:6: unknown label 'maybe'"):
        mask_train.run(cfg)
    label_file.write_bytes(
        f"image,label,opposite_label\n{rows[0][0]},obstacle,\ncaf\u00e9.jpg,obstacle,\n".encode("cp1252")
    )
    with pytest.raises(
        LabelFileError, match=f"{SITE}.csv:3: byte 0xe9 at column 4 is not UTF-8 text; save it as UTF-8"
    ):
        mask_train.run(cfg)
    label_file.write_text(f"image,label,opposite_label\n{rows[0][0]},obstacle\n")
    with pytest.raises(LabelFileError, match=f"{SITE}.csv:2: expected 3 fields"):
        mask_train.run(cfg)


def test_a_row_naming_an_image_triage_rejected_is_dropped_with_a_warning(site, rng, capsys):
    root, cfg, rows = site
    recording = root / "data" / "recordings" / SITE
    broken = "1116_obstacles_classification_2022-09-07T23-00-00"
    write_frame(recording, broken, 0.9, triplet(rng, obstacle=True)[:200])  # truncated
    src.run(cfg)
    write_labels(root, [*rows, (f"{broken}.jpg", "obstacle", "")])
    out = mask_train.run(cfg)
    err = capsys.readouterr().err
    assert f"{SITE}.csv:{len(rows) + 2}: image '{broken}.jpg' was rejected by triage" in err
    assert broken not in out.read_text()
    write_labels(root, [*rows, ("never_recorded.jpg", "obstacle", "")])
    with pytest.raises(LabelFileError, match=f":{len(rows) + 2}: image 'never_recorded.jpg' is not in"):
        mask_train.run(cfg)


def test_label_file_header_and_rejected_image(site, rng):
    root, cfg, rows = site
    write_labels(root, rows[:2], header=("img", "label"))
    with pytest.raises(LabelFileError, match=":1: header must be image,label,opposite_label"):
        mask_train.run(cfg)
    (root / "labels" / f"{SITE}.csv").unlink()
    with pytest.raises(LabelFileError, match="label file not found"):
        mask_train.run(cfg)


def test_no_mask_train_drops_mask_and_reverses(site):
    root, cfg, rows = site
    mask_train.run(cfg)
    out = no_mask_train.run(cfg)
    source = decode_image(root / "data" / "recordings" / SITE / "images" / rows[0][0])
    reference, current, _ = split_panels(source, 3)
    stem0 = rows[0][0][:-4]
    pair = decode_image(out / "obstacle" / f"{stem0}.jpg")
    reversed_pair = decode_image(out / "no_obstacle" / f"{stem0}_reversed.jpg")
    assert pair.shape == reversed_pair.shape == (32, 64, 3)
    # one high-quality re-encode of pure noise: pixels stay close to the decoded original
    assert np.abs(pair.astype(int) - np.hstack([reference, current])).mean() < 8
    assert np.abs(reversed_pair.astype(int) - np.hstack([current, reference])).mean() < 8
    n_reversed = sum(bool(r[2]) for r in rows)
    assert len(list((out / "no_obstacle").glob("*_reversed.jpg"))) == n_reversed
    pairs = pd.read_csv(out / "pairs.csv")
    assert list(pairs.columns) == ["image", "path", "sha256", "label", "source", "deployed_score"]
    assert {(r.label, r.image) for r in pairs.itertuples()} == {(p.parent.name, p.name) for p in out.glob("*/*.jpg")}
    for row in pairs.itertuples():
        assert row.path == f"datasets/{SITE}/no_mask_train/{row.label}/{row.image}"
        assert file_sha256(root / row.path) == row.sha256
        assert row.image.replace("_reversed", "") == row.source
        if row.image.endswith("_reversed.jpg"):  # never scored by the deployed model
            assert np.isnan(row.deployed_score)
        else:
            assert row.deployed_score == pytest.approx(recorded_scores(root)[row.source[:-4]], abs=1e-6)


def test_diff_metrics_come_from_the_one_decode_of_each_original(site):
    root, cfg, rows = site
    mask_train.run(cfg)
    no_mask_train.run(cfg)
    table = pd.read_csv(diff_metrics.run(cfg))
    pairs = {(p.parent.name, p.name) for p in (root / "datasets" / SITE / "no_mask_train").glob("*/*.jpg")}
    assert set(zip(table["label"], table["image"])) == pairs, "one row per pair, reversed ones included"
    images = root / "data" / "recordings" / SITE / "images"
    for _, row in table.iterrows():
        original = row["image"].replace(cfg.no_mask_train.reversed_suffix, "")
        reference, current, _ = split_panels(decode_image(images / original), 3)
        assert row["diff_metric"] == pytest.approx(diff_metric(reference, current, 50), abs=1e-8)
        assert row["pixel_threshold"] == 50


def test_to_pair_orders_panels():
    panels = [np.full((4, 4, 3), value, np.uint8) for value in (10, 20, 30)]
    triplet_image = np.hstack(panels)
    assert (no_mask_train.to_pair(triplet_image, 3, reverse=False) == np.hstack(panels[:2])).all()
    assert (no_mask_train.to_pair(triplet_image, 3, reverse=True) == np.hstack(panels[1::-1])).all()


def test_split_is_stratified_seeded_and_keeps_bursts_together(site):
    root, cfg, rows = site
    mask_train.run(cfg)
    no_mask_train.run(cfg)
    split.run(cfg)
    table = pd.read_csv(root / "datasets" / SITE / "split.csv")
    assert list(table.columns) == ["image", "path", "sha256", "label", "group", "split", "deployed_score"]
    assert set(table["split"]) == {"train", "val", "eval"}
    assert table.groupby("group")["split"].nunique().max() == 1, "a burst never straddles the split"
    # reversed copies share their original's group
    reversed_rows = table[table["image"].str.endswith("_reversed.jpg")]
    for _, row in reversed_rows.iterrows():
        original = row["image"].replace("_reversed", "")
        assert table.loc[table["image"] == original, "group"].item() == row["group"]
    for split_name in ("train", "val", "eval"):
        assert set(table.loc[table["split"] == split_name, "label"]) == {"obstacle", "no_obstacle"}, split_name
    pairs = pd.read_csv(root / "datasets" / SITE / "no_mask_train" / "pairs.csv")
    assert sorted(zip(table["path"], table["sha256"])) == sorted(zip(pairs["path"], pairs["sha256"])), "every pair once"
    assert not any((root / "datasets" / SITE / name).exists() for name in ("train", "val", "eval")), "no copies"
    first = tree_digest(root / "datasets" / SITE)
    split.run(cfg)
    assert tree_digest(root / "datasets" / SITE) == first, "seeded: same split again"


def test_burst_groups_follow_capture_time():
    stems = [stem(0, 0), stem(1, 0), stem(2, 10), "no_time_here", stem(0, 0) + "_reversed"]
    groups = splitting.burst_groups(stems, gap_s=60, reversed_suffix="_reversed")
    assert groups[0] == groups[1] == groups[4]
    assert len({groups[0], groups[2], groups[3]}) == 3


def test_merge_and_weights(site, capsys):
    root, cfg, rows = site
    for stage in (mask_train, no_mask_train, split, diff_metrics):
        stage.run(cfg)
    dataset = balanced.run(cfg)
    assert [p.name for p in dataset.iterdir()] == ["manifest.csv"], "a manifest, no image linked or copied"
    manifest = pd.read_csv(dataset / "manifest.csv")
    assert list(manifest.columns) == [*MANIFEST_COLUMNS, "deployed_score"]
    reversed_rows = manifest["path"].str.endswith("_reversed.jpg")
    assert reversed_rows.any() and manifest.loc[reversed_rows, "deployed_score"].isna().all()
    recorded = recorded_scores(root)
    for path, score in zip(manifest.loc[~reversed_rows, "path"], manifest.loc[~reversed_rows, "deployed_score"]):
        assert score == pytest.approx(recorded[path.rsplit("/", 1)[1][:-4]], abs=1e-6)
    assert (manifest["site"] == SITE).all() and (manifest["pixel_threshold"] == 50).all()
    split_table = pd.read_csv(root / "datasets" / SITE / "split.csv")
    assert sorted(zip(manifest["path"], manifest["split"])) == sorted(zip(split_table["path"], split_table["split"]))
    for _, row in manifest.iterrows():
        assert row["path"].startswith(f"datasets/{SITE}/no_mask_train/"), "the one image output"
        assert file_sha256(root / row["path"]) == row["sha256"]
    # the hand-made obstacle is a white 8x8 square in a 32x32 panel: 1/16 of the pixels change
    reversed_ = manifest["path"].str.contains("_reversed")
    assert manifest.loc[manifest["label"] == "obstacle", "diff_metric"].mean() == pytest.approx(1 / 16, abs=0.01)
    assert manifest.loc[(manifest["label"] == "no_obstacle") & ~reversed_, "diff_metric"].max() < 0.01
    out = weights_stage.run(cfg)
    table = pd.read_csv(out / "sample_weights.csv")
    assert len(table) == (manifest["split"] == "train").sum()
    assert np.isfinite(table[["diff_threshold", "sigma_dist", "diff_coef", "sample_weight"]].to_numpy()).all()
    for picture in ("weight_curve.png", "weight_distribution.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["curve"]["alfa"] == -3.5 and set(summary["classes"]) == {"obstacle", "no_obstacle"}


def test_eval_split_holds_both_classes_even_with_few_single_class_groups():
    # 12 bursts, each all-obstacle or all-no-obstacle: a plain fold of 10 could hold one class only
    groups = np.repeat(np.arange(12), 4)
    labels = (groups % 2).astype(np.int64)
    for seed in range(20):
        is_eval = splitting.hold_out(labels, groups, fraction=0.1, seed=seed)
        assert set(labels[is_eval]) == {0, 1}, seed
        assert len(np.unique(groups[is_eval])) < len(np.unique(groups)) / 2
        assert all(len(set(is_eval[groups == g])) == 1 for g in np.unique(groups)), "groups stay whole"


def test_three_splits_are_disjoint_whole_groups_with_their_shares_of_every_class():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(600), rng.integers(1, 6, 600))
    labels = (rng.random(len(groups)) < 0.4).astype(np.int64)
    names = splitting.assign_splits(labels, groups, eval_fraction=0.1, val_fraction=0.1, seed=5)
    assert set(names) == {"train", "val", "eval"}
    assert all(len(set(names[groups == g])) == 1 for g in np.unique(groups)), "no group straddles two splits"
    for label in (0, 1):
        of_class = names[labels == label]
        assert (of_class == "eval").mean() == pytest.approx(0.1, abs=0.02)
        assert (of_class == "val").mean() == pytest.approx(0.09, abs=0.02), "10% of the rest"
    eval_alone = splitting.hold_out(labels, groups, fraction=0.1, seed=5)
    assert np.array_equal(names == "eval", eval_alone), "adding val leaves eval as the seed alone gives it"
    two_way = splitting.assign_splits(labels, groups, eval_fraction=0.1, val_fraction=0.0, seed=5)
    assert set(two_way) == {"train", "eval"} and np.array_equal(two_way == "eval", eval_alone)
    with pytest.raises(ValueError, match="val_fraction must be in"):
        splitting.assign_splits(labels, groups, eval_fraction=0.1, val_fraction=1.0, seed=5)


def test_a_site_too_small_for_three_splits_is_named_with_the_split(site):
    root, cfg, rows = site
    mask_train.run(cfg)
    no_mask_train.run(cfg)
    names = np.array(["train", "eval", "train", "eval"])
    labels, groups = np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])
    with pytest.raises(
        ValueError, match=r"site s1: split 'val' gets no no_obstacle image: its 2 no_obstacle image\(s\)"
    ):
        split.check_both_classes("s1", labels, groups, names, ("train", "val", "eval"))
    split.check_both_classes("s1", labels, groups, names, ("train", "eval"))
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.split.eval_fraction, cfg.split.val_fraction = 0.5, 0.9
    with pytest.raises(ValueError, match=f"site {SITE}: split 'train' gets no"):
        split.run(cfg)
    assert not (root / "datasets" / SITE / "split.csv").exists(), "nothing written for a refused split"


def test_eval_split_takes_the_configured_share_of_every_class_seeded():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(400), rng.integers(1, 8, 400))  # bursts of 1 to 7 frames
    labels = (rng.random(len(groups)) < 0.3).astype(np.int64)  # 30 % obstacles, mixed bursts
    for fraction in (0.1, 0.25):
        is_eval = splitting.hold_out(labels, groups, fraction=fraction, seed=1)
        for label in (0, 1):
            assert is_eval[labels == label].mean() == pytest.approx(fraction, abs=0.02), (fraction, label)
        assert all(len(set(is_eval[groups == g])) == 1 for g in np.unique(groups)), "groups stay whole"
    first = splitting.hold_out(labels, groups, fraction=0.1, seed=1)
    assert np.array_equal(splitting.hold_out(labels, groups, fraction=0.1, seed=1), first)
    assert not np.array_equal(splitting.hold_out(labels, groups, fraction=0.1, seed=2), first)


def test_worker_processes_give_the_same_bytes_as_one_process(tmp_path, monkeypatch):
    """Enough frames that every per-image stage fans out to worker processes."""
    pools = []
    real_context = parallel.get_context
    monkeypatch.setattr(parallel, "get_context", lambda method: pools.append(method) or real_context(method))
    n_frames = 2 * parallel.CHUNKSIZE + 5
    outputs = {}
    for workers in (1, 2):
        root, rng = tmp_path / f"workers{workers}", np.random.default_rng(3)
        rows = []
        for i in range(n_frames):
            obstacle = i % 2 == 0
            image = triplet(rng, obstacle=obstacle)
            write_frame(root / "data" / "recordings" / SITE, stem(i), 0.8 if obstacle else 0.2, image)
            reverse = "no_obstacle" if i % 7 == 0 else ""
            rows.append((f"{stem(i)}.jpg", "obstacle" if obstacle else "no_obstacle", reverse))
        write_labels(root, rows)
        cfg = pipeline_cfg(root, SITE, overrides=[f"workers={workers}"])
        for stage in (src, mask_train, no_mask_train, split, diff_metrics, balanced):
            stage.run(cfg)
        outputs[workers] = tree_digest(root / "datasets")
        if workers == 1:
            assert pools == [], "one worker runs in-process"
    assert pools == ["fork"] * 2, "src and no_mask_train each fanned out"
    assert outputs[1] == outputs[2] and len(outputs[1]) > n_frames


def test_triage_cutoffs_prefill_what_the_triage_rule_says():
    from obstacles.lineage.names import NO_OBSTACLE, OBSTACLE, SKIP
    from obstacles.lineage.triage import TriageCutoffs

    cutoffs = TriageCutoffs(obstacle_above=0.7, no_obstacle_at_most=0.3)
    scores = (0.0, 0.3, 0.3000001, 0.5, 0.7, 0.7000001, 1.0)
    expected = [NO_OBSTACLE, NO_OBSTACLE, SKIP, SKIP, SKIP, OBSTACLE, OBSTACLE]  # <= low cut; > high cut
    assert [cutoffs.prefill_label(score) for score in scores] == expected
