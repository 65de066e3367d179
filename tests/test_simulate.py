"""The recorder simulator: layout, formats, bursts, determinism, score realism, refusal, CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from obstacles.commands.simulate import run as simulate_command
from obstacles.infra.config import compose
from obstacles.io.images import decode_image, split_panels
from obstacles.simulation.camera import change_mask
from obstacles.simulation.recorder import simulate_site
from obstacles.simulation.reviewer import review
from obstacles.simulation.schedule import STEM_TIME_FORMAT
from obstacles.weights.curve import diff_mask

SITE = "plant_202209_01"
STEM = re.compile(r"^1116_obstacles_classification_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})$")


@pytest.fixture(scope="module")
def cfg():
    return compose("simulate")


def spec(cfg, **changes) -> dict:
    return {**dict(cfg.sites[SITE]), **changes}


def run(root: Path, cfg, n_frames: int, *, site: str = SITE, seed: int = 3, **kwargs):
    return simulate_site(
        root / "recordings", root / "labels", site, spec(cfg, n_frames=n_frames), cfg.common, seed=seed, **kwargs
    )


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_labels(root: Path, site: str = SITE) -> pd.DataFrame:
    return pd.read_csv(root / "labels" / f"{site}.csv", dtype=str, keep_default_na=False)


def score_of(root: Path, stem: str) -> float:
    return json.loads((root / "recordings" / SITE / "json" / f"{stem}.json").read_text())["dense"][0]


@pytest.fixture(scope="module")
def site300(tmp_path_factory, cfg):
    """A few hundred frames with the repo's default knobs, shared by the read-only checks."""
    root = tmp_path_factory.mktemp("site300")
    summary = run(root, cfg, 300)
    return root, summary


def test_layout_names_and_summary(site300):
    root, summary = site300
    images = sorted((root / "recordings" / SITE / "images").iterdir())
    jsons = sorted((root / "recordings" / SITE / "json").iterdir())
    assert len(images) == len(jsons) == summary.frames == 300
    assert [p.stem for p in images] == [p.stem for p in jsons]
    assert all(p.suffix == ".jpg" and STEM.match(p.stem) for p in images)
    assert all(p.suffix == ".json" for p in jsons)
    assert summary.obstacle + summary.no_obstacle == 300 and summary.obstacle > 0 and summary.no_obstacle > 0
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_triplets_are_600x200_rgb_jpegs_with_a_binary_mask(site300):
    root, _ = site300
    for path in sorted((root / "recordings" / SITE / "images").iterdir())[::50]:
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (600, 200))
        reference, current, mask = split_panels(decode_image(path), 3)
        assert reference.std() > 10  # a textured scene, not a flat fill
        assert np.mean((mask < 40) | (mask > 215)) > 0.97  # black/white up to JPEG ringing
        assert np.abs(mask.astype(int) - mask[..., :1]).max() < 40  # grey: same in all channels


def test_json_holds_one_dense_score_in_unit_range(site300):
    root, _ = site300
    for path in (root / "recordings" / SITE / "json").iterdir():
        record = json.loads(path.read_text())
        assert list(record) == ["dense"] and len(record["dense"]) == 1
        assert isinstance(record["dense"][0], float) and 0.0 <= record["dense"][0] <= 1.0


def test_labels_csv(site300, cfg):
    root, summary = site300
    path = root / "labels" / f"{SITE}.csv"
    assert path.read_text().splitlines()[0] == "image,label,opposite_label"
    labels = read_labels(root)
    images = {p.name for p in (root / "recordings" / SITE / "images").iterdir()}
    assert set(labels.image) == images and len(labels) == len(images)
    assert set(labels.label) <= {"obstacle", "no_obstacle", "skip"}
    assert set(labels.opposite_label) <= {"", "obstacle", "no_obstacle"}
    reversed_rows = labels[labels.opposite_label != ""]
    assert len(reversed_rows) == summary.reversals > 0
    assert (reversed_rows.label == "obstacle").all() and (reversed_rows.opposite_label == "no_obstacle").all()
    skips = (labels.label == "skip").sum()
    assert skips == summary.skips and 0.03 < skips / len(labels) < 0.2  # configured 0.1


def test_bursts_are_seconds_apart_and_separated_by_minutes(site300, cfg):
    root, summary = site300
    stems = read_labels(root).image.str.removesuffix(".jpg")
    times = [datetime.strptime(STEM.match(s).group(1), STEM_TIME_FORMAT) for s in stems]
    steps = np.diff([t.timestamp() for t in times])
    bursts = cfg.common.bursts
    assert (steps > 0).all()
    within = (steps >= bursts.interval_s[0]) & (steps <= bursts.interval_s[1])
    between = steps >= 60 * bursts.gap_min[0]
    assert (within | between).all() and within.any()
    assert between.sum() == summary.bursts - 1
    assert times[0] == datetime.fromisoformat(cfg.sites[SITE].start)
    # one obstacle state per burst, and label noise defaults to 0: reviewed labels agree within a burst
    labels = read_labels(root).assign(burst=np.concatenate([[0], np.cumsum(between)]))
    reviewed = labels[labels.label != "skip"]
    assert (reviewed.groupby("burst").label.nunique() == 1).all()


def test_frames_of_a_burst_share_reference_and_truth(site300):
    root, _ = site300
    labels = read_labels(root)
    first, second = labels.image.iloc[0], labels.image.iloc[1]  # bursts have at least two frames
    assert (
        0
        < datetime.strptime(second[-23:-4], STEM_TIME_FORMAT).timestamp()
        - datetime.strptime(first[-23:-4], STEM_TIME_FORMAT).timestamp()
        < 60
    )
    images = root / "recordings" / SITE / "images"
    ref_a, cur_a, _ = split_panels(decode_image(images / first), 3)
    ref_b, cur_b, _ = split_panels(decode_image(images / second), 3)
    inner = np.s_[:, :-16]  # the last JPEG block column mixes in the current panel
    assert np.abs(ref_a[inner].astype(int) - ref_b[inner]).mean() < 0.5
    assert 0 < np.abs(cur_a.astype(int) - cur_b).mean() < 15  # noise, flicker, maybe a shift


def test_scores_are_informative_but_imperfect(site300):
    root, _ = site300
    labels = read_labels(root)
    labels = labels[labels.label != "skip"]
    truth = (labels.label == "obstacle").to_numpy()
    scores = np.array([score_of(root, image[:-4]) for image in labels.image])
    ranks = pd.Series(scores).rank().to_numpy()
    auroc = (ranks[truth].sum() - truth.sum() * (truth.sum() + 1) / 2) / (truth.sum() * (~truth).sum())
    assert 0.75 < auroc < 0.98
    bands = np.digitize(scores, [0.33, 0.63], right=True)  # 0: <= 0.33, 1: middle, 2: > 0.63
    assert np.bincount(bands, minlength=3).min() >= 5
    assert ((scores > 0.63) & ~truth).any() and ((scores <= 0.33) & truth).any()  # wrong both ways


def test_same_config_same_bytes_whatever_the_worker_count(tmp_path, cfg):
    run(tmp_path / "a", cfg, 24)
    run(tmp_path / "b", cfg, 24, workers=2)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert len(a) == 2 * 24 + 1 and a == b


def test_seed_and_site_change_the_data(tmp_path, cfg):
    run(tmp_path / "a", cfg, 6)
    run(tmp_path / "b", cfg, 6, seed=4)
    run(tmp_path / "c", cfg, 6, site="plant_202209_02")
    a, b, c = (sorted(tree_bytes(tmp_path / x / "recordings").values()) for x in "abc")
    assert not set(a) & set(b) and not set(a) & set(c)


def test_refuses_to_overwrite_unless_asked(tmp_path, cfg):
    run(tmp_path, cfg, 6)
    before = tree_bytes(tmp_path)
    with pytest.raises(FileExistsError, match="overwrite=true"):
        run(tmp_path, cfg, 6)
    assert tree_bytes(tmp_path) == before
    run(tmp_path, cfg, 6, overwrite=True)
    assert tree_bytes(tmp_path) == before
    with pytest.raises(FileExistsError, match="would not rewrite"):  # fewer frames: old ones would linger
        run(tmp_path, cfg, 4, overwrite=True)
    assert tree_bytes(tmp_path) == before


def test_existing_label_file_is_not_replaced(tmp_path, cfg):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / f"{SITE}.csv").write_text("image,label,opposite_label\n")
    with pytest.raises(FileExistsError, match="labels"):
        run(tmp_path, cfg, 4)
    assert not (tmp_path / "recordings").exists()


def test_bad_site_name_and_style_are_clear_errors(tmp_path, cfg):
    with pytest.raises(ValueError, match="<site>_<yyyymm>_<seq>"):
        run(tmp_path, cfg, 4, site="plant")
    with pytest.raises(ValueError, match="unknown style"):
        simulate_site(tmp_path, tmp_path, SITE, spec(cfg, style="moon"), cfg.common, seed=1)


def test_change_mask_matches_the_weights_diff_mask():
    rng = np.random.default_rng(0)
    reference, current = rng.integers(0, 256, (2, 30, 40, 3), dtype=np.uint8)
    for threshold in (0, 40.5, 50, 254):
        mask = change_mask(reference, current, threshold)
        assert mask.shape == (30, 40, 3) and set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask[..., 0] > 0, diff_mask(reference, current, threshold))
        assert np.array_equal(mask[..., 0], mask[..., 2])


def test_review_knobs():
    truth = np.arange(2000) % 2 == 0
    knobs = {"skip_fraction": 0.5, "reversal_fraction": 1.0, "label_noise": 1.0}
    labels, opposite = review(np.random.default_rng(0), truth, SimpleNamespace(**knobs))
    labels, opposite = np.array(labels), np.array(opposite)
    assert 0.45 < np.mean(labels == "skip") < 0.55
    kept = labels != "skip"
    assert (labels[kept] == np.where(truth[kept], "no_obstacle", "obstacle")).all()  # every label flipped
    assert ((opposite == "no_obstacle") == (labels == "obstacle")).all()


def test_simulate_runs_every_site_from_a_composed_config(tmp_path, capsys):
    cfg = compose(
        "simulate",
        [f"paths.root_dir={tmp_path}", "sites.plant_202209_01.n_frames=5", "sites.office_202210_02.n_frames=3"],
    )
    summaries = simulate_command(cfg)
    assert [(s.site, s.frames) for s in summaries] == [("plant_202209_01", 5), ("office_202210_02", 3)]
    assert capsys.readouterr().out.splitlines() == [s.line() for s in summaries]
    assert sorted(p.name for p in (tmp_path / "labels").iterdir()) == ["office_202210_02.csv", "plant_202209_01.csv"]
    assert len(list((tmp_path / "data" / "recordings" / "office_202210_02" / "images").iterdir())) == 3


def test_cli_writes_under_root_dir_and_nothing_else(tmp_path):
    root, cwd = tmp_path / "root", tmp_path / "cwd"
    cwd.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "obstacles.commands.simulate",
            f"paths.root_dir={root}",
            "~sites.office_202210_02",
            "sites.plant_202209_01.n_frames=4",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "plant_202209_01: 4 frames" in result.stdout
    assert len(list((root / "data" / "recordings" / SITE / "images").glob("*.jpg"))) == 4
    assert (root / "labels" / f"{SITE}.csv").is_file()
    assert not list(cwd.iterdir())  # no outputs/, .hydra/ or logs
