"""Champion vs challenger: DeLong's test against a published worked example and a paired bootstrap,
the paired statistics' edge cases, and the comparison end to end from recordings whose JSON files
hold the deployed score."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from obstacles.champion.delong import NotTestable, auroc, delong_test
from obstacles.champion.paired import (
    BETTER,
    NOT_DISTINGUISHABLE,
    WORSE,
    Limits,
    coverage_difference,
    frames_needed,
    verdict,
    verdict_in_words,
)
from obstacles.commands.champion import run
from obstacles.infra.config import compose
from obstacles.stages import balanced, diff_metrics, mask_train, no_mask_train, split, src
from tests.helpers.project import pipeline_cfg
from tests.helpers.recordings import triplet, write_frame

DATA = Path(__file__).parent / "data"
LIMITS = Limits(max_missed=0.01, max_false_alarm=0.05, confidence=None, decimals=2, epsilon=1e-9, rounded=True)
SITE = "plant_202209_01"


def strict_json(path: Path) -> dict:
    """The file's JSON, refusing NaN and Infinity (what strict parsers, and DVC's plots, refuse)."""

    def refuse(token):
        raise ValueError(f"{path}: non-standard JSON token {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


# --------------------------------------------------------------------------- DeLong


def test_delong_matches_the_published_asah_example():
    """pROC's `roc.test(roc(outcome, wfns), roc(outcome, s100b))` on its aSAH data (113 patients with
    an aneurysmal subarachnoid haemorrhage, outcome Poor as the positive class; Turck et al. 2010,
    Intensive Care Medicine 36: 107-115; the figures are the ones pROC's own tests expect):
    AUROC 0.8237 (wfns) vs 0.7314 (s100b), DeLong Z = 2.20898359144091, p = 0.0271757822291882,
    95% CI 0.0104061769564846 to 0.174214419249478; and wfns vs ndka Z = 2.79777591868904,
    p = 0.00514557970691098. The markers are scaled into [0, 1] (this project's scores are
    probabilities); a monotone scaling keeps every ranking, so every figure."""
    data = pd.read_csv(DATA / "aSAH.csv")
    poor = data["outcome"] == "Poor"
    s100b, ndka, wfns = (data[c] / data[c].max() for c in ("s100b", "ndka", "wfns"))
    result = delong_test(s100b, wfns, poor)  # champion s100b, challenger wfns: difference wfns - s100b
    assert (result.n, result.n_obstacle, result.n_no_obstacle) == (113, 41, 72)
    assert result.auroc_challenger == pytest.approx(0.8237, abs=5e-5)
    assert result.auroc_champion == pytest.approx(0.7314, abs=5e-5)
    assert result.z == pytest.approx(2.20898359144091, rel=1e-9)
    assert result.p == pytest.approx(0.0271757822291882, rel=1e-9)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.0104061769564846, 0.174214419249478), rel=1e-9)
    other = delong_test(ndka, wfns, poor)
    assert (other.z, other.p) == pytest.approx((2.79777591868904, 0.00514557970691098), rel=1e-9)
    swapped = delong_test(wfns, s100b, poor)
    assert (swapped.z, swapped.p) == pytest.approx((-result.z, result.p), rel=1e-12)


def correlated_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two correlated scorers of the same frames, with ties (scores rounded to 2 decimals)."""
    rng = np.random.default_rng(seed)
    is_obstacle = rng.random(n) < 0.4
    shared = rng.normal(0.0, 1.0, n)
    champion = 1 / (1 + np.exp(-(1.2 * is_obstacle + shared + rng.normal(0, 0.6, n))))
    challenger = 1 / (1 + np.exp(-(1.5 * is_obstacle + shared + rng.normal(0, 0.6, n))))
    return np.round(champion, 2), np.round(challenger, 2), is_obstacle


def test_delong_standard_error_agrees_with_a_paired_bootstrap():
    champion, challenger, is_obstacle = correlated_scores(400, seed=3)
    result = delong_test(champion, challenger, is_obstacle)
    assert result.auroc_champion == pytest.approx(roc_auc_score(is_obstacle, champion), abs=1e-12)
    assert result.auroc_challenger == pytest.approx(roc_auc_score(is_obstacle, challenger), abs=1e-12)
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(2000):  # the same resampled frames for both scorers
        index = rng.integers(0, is_obstacle.size, is_obstacle.size)
        differences.append(auroc(challenger[index], is_obstacle[index]) - auroc(champion[index], is_obstacle[index]))
    bootstrap_se = float(np.std(differences, ddof=1))
    assert result.se == pytest.approx(bootstrap_se, rel=0.15), (result.se, bootstrap_se)
    assert result.ci_low < result.difference < result.ci_high
    assert result.difference == pytest.approx(np.mean(differences), abs=result.se / 3)


def test_delong_runs_on_a_million_frames_by_sorting():
    rng = np.random.default_rng(1)
    is_obstacle = rng.random(1_000_000) < 0.3
    scores = np.clip(rng.normal(0.4 + 0.2 * is_obstacle, 0.2), 0, 1)
    other = np.clip(scores + rng.normal(0, 0.05, scores.size), 0, 1)
    result = delong_test(scores, other, is_obstacle)
    assert 0 < result.se < 1e-3 and math.isfinite(result.z)


def test_delong_degenerate_inputs_say_why():
    labels = np.array([True, False, True, False, True])
    scores = np.array([0.9, 0.1, 0.8, 0.3, 0.7])
    same = delong_test(scores, scores, labels)
    assert (same.difference, same.se, same.z, same.p) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(NotTestable, match="needs at least 2 of each"):
        delong_test(scores[:3], scores[:3][::-1], labels[:3])
    with pytest.raises(NotTestable, match="1 obstacle and 0 no_obstacle"):
        delong_test([0.5], [0.6], [True])
    with pytest.raises(ValueError, match="NaN"):
        delong_test(scores, np.array([0.9, np.nan, 0.8, 0.3, 0.7]), labels)
    with pytest.raises(ValueError, match="4 scores but 5 labels"):
        delong_test(scores, scores[:4], labels)


# --------------------------------------------------------------------------- paired statistics


def test_verdict_and_frames_needed():
    assert verdict(0.05, 0.01, alpha=0.05) == BETTER
    assert verdict(-0.05, 0.01, alpha=0.05) == WORSE
    assert verdict(-0.05, 0.2, alpha=0.05) == NOT_DISTINGUISHABLE
    assert verdict_in_words(NOT_DISTINGUISHABLE, 93) == "not distinguishable with 93 frames"
    # z = 1.4 at 100 frames: (1.96 + 0.84)^2 / 1.4^2 = 4 times as many frames for 80% power at 5%
    assert frames_needed(100, 1.4, alpha=0.05, power=0.8) == pytest.approx(400, rel=0.01)
    assert frames_needed(100, -1.4, alpha=0.05, power=0.8) == frames_needed(100, 1.4, alpha=0.05, power=0.8)
    assert frames_needed(100, 0.0, alpha=0.05, power=0.8) is None


def test_coverage_bootstrap_is_paired_and_seeded():
    champion, challenger, is_obstacle = correlated_scores(200, seed=5)
    first = coverage_difference(champion, challenger, is_obstacle, LIMITS, resamples=50, confidence=0.9, seed=4)
    again = coverage_difference(champion, challenger, is_obstacle, LIMITS, resamples=50, confidence=0.9, seed=4)
    assert first == again and first.resamples_used == 50
    assert first.ci_low <= first.ci_high
    same = coverage_difference(champion, champion, is_obstacle, LIMITS, resamples=50, confidence=0.9, seed=4)
    assert (same.difference, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0), "the same frames for both models"
    with pytest.raises(ValueError, match="no obstacle images"):
        coverage_difference(champion, challenger, np.zeros(200, bool), LIMITS, resamples=5, confidence=0.9, seed=0)


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def lineage(tmp_path_factory):
    """One recording (16 bursts of 3 frames, obstacle bursts alternating, a noisy deployed score in
    each JSON, a third of the obstacle frames also picked reversed) through src ... balanced."""
    root = tmp_path_factory.mktemp("champion")
    rng = np.random.default_rng(12)
    recording = root / "data" / "recordings" / SITE
    rows = []
    for burst in range(16):
        obstacle = burst % 2 == 0
        for frame in range(3):
            minute = burst * 30
            name = f"1116_obstacles_classification_2022-09-07T{6 + minute // 60:02d}-{minute % 60:02d}-{frame * 5:02d}"
            score = float(np.clip(rng.normal(0.65 if obstacle else 0.35, 0.2), 0.0, 1.0))
            write_frame(recording, name, round(score, 4), triplet(rng, obstacle=obstacle))
            label = "obstacle" if obstacle else "no_obstacle"
            rows.append(f"{name}.jpg,{label},{'no_obstacle' if obstacle and frame == 0 else ''}")
    (root / "labels").mkdir()
    (root / "labels" / f"{SITE}.csv").write_text("image,label,opposite_label\n" + "\n".join(rows) + "\n")
    cfg = pipeline_cfg(root, SITE, overrides=["split.eval_fraction=0.4"])
    for stage in (src, mask_train, no_mask_train, split, diff_metrics, balanced):
        stage.run(cfg)
    return root


def eval_predictions(root: Path, folder: Path) -> pd.DataFrame:
    """What evaluation writes for the manifest's eval split, with a made-up challenger score."""
    manifest = pd.read_csv(root / "datasets" / "demo_balanced" / "manifest.csv")
    rows = manifest[manifest["split"] == "eval"].reset_index(drop=True)
    rng = np.random.default_rng(0)
    score = np.round(np.clip(rng.normal(np.where(rows["label"] == "obstacle", 0.6, 0.4), 0.2), 0, 1), 4)
    table = rows[["path", "site", "label"]].assign(score=score, deployed_score=rows["deployed_score"])
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "predictions.csv", index=False)
    return table


def recorded_score(root: Path, pair_path: str) -> float:
    """dense[0] of the pair's source frame, read straight from the recording's JSON."""
    stem = Path(pair_path).stem
    return json.loads((root / "data" / "recordings" / SITE / "json" / f"{stem}.json").read_text())["dense"][0]


def test_deployed_auroc_is_the_recordings_own_score_on_the_same_eval_frames(lineage):
    root = lineage
    table = eval_predictions(root, root / "reports" / "eval")
    report = run(
        compose("champion", [f"challenger={root / 'reports' / 'eval'}", "min_per_class=5", "wandb.enabled=false"])
    )
    reversed_rows = table["path"].str.endswith("_reversed.jpg")
    assert reversed_rows.any() and table.loc[reversed_rows, "deployed_score"].isna().all()
    frames = table[~reversed_rows]
    recorded = [recorded_score(root, path) for path in frames["path"]]
    is_obstacle = frames["label"] == "obstacle"
    assert report["n"] == len(frames) and report["n_left_out"] == int(reversed_rows.sum())
    assert report["champion"]["auroc"] == pytest.approx(roc_auc_score(is_obstacle, recorded), abs=1e-12)
    assert report["challenger"]["auroc"] == pytest.approx(roc_auc_score(is_obstacle, frames["score"]), abs=1e-12)
    assert report["challenger"]["auroc_all_frames"] == pytest.approx(
        roc_auc_score(table["label"] == "obstacle", table["score"]), abs=1e-12
    )
    assert report["testable"] and report["verdict"] in (-1, 0, 1) and report["frames_needed"] > 0
    out = root / "reports" / "eval" / "champion"  # beside the predictions by default
    assert sorted(p.name for p in out.iterdir()) == [
        "champion.json",
        "champion.provenance.json",
        "per_site.csv",
        "roc_overlay.png",
    ]
    assert strict_json(out / "champion.json") == {k: v for k, v in report.items() if k != "provenance"}
    provenance = strict_json(out / "champion.provenance.json")
    assert provenance["champion_from"]["kind"] == "deployed" and provenance["verdict_in_words"]
    assert not set(provenance) & set(report), "numbers and provenance apart, as metrics.json's"
    per_site = pd.read_csv(out / "per_site.csv")
    assert list(per_site["site"]) == [SITE] and per_site["n"].item() == report["n"]


def test_another_model_as_champion_and_a_report_without_nan(lineage, tmp_path):
    root = lineage
    eval_predictions(root, tmp_path / "challenger")
    # the same model as champion: no difference, on every frame (reversed copies too)
    report = run(
        compose(
            "champion",
            [
                f"challenger={tmp_path / 'challenger'}",
                f"champion={tmp_path / 'challenger' / 'predictions.csv'}",
                f"out_dir={tmp_path / 'same'}",
                "min_per_class=5",
                "wandb.enabled=false",
            ],
        )
    )
    assert report["n_left_out"] == 0 and report["auroc_difference"]["difference"] == 0.0
    assert report["auroc_difference"]["p"] == 1.0 and report["verdict"] == 0
    assert report["provenance"]["verdict_in_words"] == f"not distinguishable with {report['n']} frames"
    assert "frames_needed" not in report, "no difference: no sample size detects it"
    # too few frames of a class for a test: said in words, numbers stay numbers
    report = run(
        compose(
            "champion",
            [
                f"challenger={tmp_path / 'challenger'}",
                "min_per_class=1000",
                f"out_dir={tmp_path / 'few'}",
                "wandb.enabled=false",
            ],
        )
    )
    assert report["testable"] is False and "auroc_difference" not in report
    assert report["provenance"]["verdict_in_words"].startswith("cannot be tested: ")
    strict_json(tmp_path / "few" / "champion.json")


def test_predictions_without_deployed_scores_need_a_manifest(lineage, tmp_path):
    root = lineage
    table = eval_predictions(root, tmp_path)
    table.drop(columns="deployed_score").to_csv(tmp_path / "predictions.csv", index=False)
    with pytest.raises(ValueError, match="no deployed_score column"):
        run(compose("champion", [f"challenger={tmp_path}", "wandb.enabled=false"]))
    manifest = root / "datasets" / "demo_balanced" / "manifest.csv"
    report = run(compose("champion", [f"challenger={tmp_path}", f"manifest={manifest}", "wandb.enabled=false"]))
    assert report["n_left_out"] == int(table["deployed_score"].isna().sum())
    with pytest.raises(FileNotFoundError, match="no predictions at"):
        run(compose("champion", [f"challenger={tmp_path / 'nowhere'}", "wandb.enabled=false"]))
