"""Evaluation end to end on a tiny trained run: outputs, galleries, W&B, discovery, bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pytest

from obstacles.evaluation.gallery import write_gallery
from obstacles.evaluation.job import DataPaths, RunSelection, evaluate, run_evaluation
from obstacles.evaluation.settings import GallerySettings, ScoringSettings
from obstacles.infra.config import tool_settings
from obstacles.io.images import encode_jpeg
from obstacles.io.provenance import file_sha256
from obstacles.runs.lookup import find_run
from obstacles.thresholds.job import search_thresholds
from tests.helpers.commands import offline_wandb, run_module
from tests.helpers.html import HOSTILE_NAMES, assert_page_is_safe, hostile_stems
from tests.helpers.project import metric_leaves

pytestmark = pytest.mark.long  # scheduled first (tests/conftest.py)
THRESHOLDS = (0.3, 0.5, 0.7)
TAGS = ("t0.30", "t0.50", "t0.70")
SCORE_DECIMALS = 3  # conf/evaluate.yaml gallery.score_decimals
HREF = re.compile(r'(?:href|src)="([^"#]+)"')


def cli(root: Path, module: str, *overrides: str, rooted: bool = True) -> subprocess.CompletedProcess:
    """`python -m <module>` in a fresh process, W&B offline and kept inside root (`rooted`: its
    paths too; the threshold search has none)."""
    return run_module(root, module, *([f"paths.root_dir={root}"] if rooted else []), *overrides)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, trained_run):
    """The shared tiny run (W&B offline), then `python -m obstacles.commands.evaluate` with no checkpoint given."""
    root = tmp_path_factory.mktemp("evaluate")
    run = trained_run(root)
    result = cli(root, "obstacles.commands.evaluate", "eval.batch_size=4")
    assert "AUROC" in result.stdout
    return root, run, run / "eval"


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def cfg_for(root: Path, *overrides: str):
    return tool_settings(
        "evaluate", [f"paths.root_dir={root}", "wandb.enabled=false", "eval.progress=false", *overrides]
    )


def test_predictions_cover_the_eval_split_with_the_best_checkpoint(trained):
    root, run, out = trained
    manifest = pd.read_csv(root / "datasets" / "tiny" / "manifest.csv")
    eval_rows = manifest[manifest["split"] == "eval"].reset_index(drop=True)
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == ["path", "site", "label", "score"]
    assert len(predictions) == len(eval_rows)
    assert predictions[["path", "site", "label"]].equals(eval_rows[["path", "site", "label"]])
    assert predictions["score"].between(0, 1).all()
    provenance = json.loads((out / "metrics.provenance.json").read_text())
    assert provenance["checkpoint"].endswith("checkpoints/best.ckpt")  # default: the latest run's best
    assert provenance["manifest_sha256"] == file_sha256(root / "datasets" / "tiny" / "manifest.csv")
    assert provenance["wandb_run_id"] == json.loads((run / "run.json").read_text())["wandb_run_id"]
    assert provenance["dataset"] == "tiny" and provenance["split"] == "eval" and "git_commit" in provenance


def test_metrics_json_holds_numbers_only_and_provenance_sits_beside_it(trained):
    """DVC compares runs by metrics.json (`dvc metrics show/diff`, `dvc exp show`): no paths, hashes or ids."""
    _, _, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    not_numbers = {key: value for key, value in metric_leaves(metrics) if not isinstance(value, (int, float))}
    assert not_numbers == {}
    provenance = json.loads((out / "metrics.provenance.json").read_text())
    assert not set(provenance) & {key for key, _ in metric_leaves(metrics)}, "each value in one file only"
    assert {"auroc", "average_precision", "specificity_at_sensitivity", "n", "n_obstacle", "n_no_obstacle"} <= set(
        metrics
    )
    assert set(metrics["thresholds"]) == set(TAGS)


def test_metrics_equal_a_direct_count_from_the_predictions(trained):
    _, _, out = trained
    predictions = pd.read_csv(out / "predictions.csv")
    metrics = json.loads((out / "metrics.json").read_text())
    obstacle = predictions["label"] == "obstacle"
    counts = (metrics["n"], metrics["n_obstacle"], metrics["n_no_obstacle"])
    assert counts == (len(predictions), obstacle.sum(), (~obstacle).sum())
    table = pd.read_csv(out / "threshold_metrics.csv")
    assert table["threshold"].tolist() == list(THRESHOLDS)
    for tag, threshold, row in zip(TAGS, THRESHOLDS, table.itertuples()):
        above = predictions["score"] > threshold
        expected = {"tp": obstacle & above, "tn": ~obstacle & ~above, "fp": ~obstacle & above, "fn": obstacle & ~above}
        for name, mask in expected.items():
            assert metrics["thresholds"][tag][name] == mask.sum() == getattr(row, name), (tag, name)
        assert (out / "figures" / f"confusion_{tag}.png").stat().st_size > 0
    for key in ("auroc", "average_precision", "specificity_at_sensitivity"):
        assert key in metrics
    assert (out / "figures" / "roc_pr.png").is_file()
    assert {"fpr", "tpr"} <= set(pd.read_csv(out / "roc.csv").columns)
    assert {"recall", "precision"} <= set(pd.read_csv(out / "pr.csv").columns)
    per_site = pd.read_csv(out / "per_site.csv")
    assert len(per_site) == predictions["site"].nunique() * len(THRESHOLDS)
    counts = ["tp", "tn", "fp", "fn"]
    assert per_site.groupby("threshold")[counts].sum().to_numpy().tolist() == table[counts].to_numpy().tolist()


def test_galleries_hold_exactly_the_errors_of_each_threshold(trained):
    root, _, out = trained
    predictions = pd.read_csv(out / "predictions.csv")
    obstacle = predictions["label"] == "obstacle"
    for tag, threshold in zip(TAGS, THRESHOLDS):
        folder = out / "galleries" / tag
        above = predictions["score"] > threshold
        for kind, mask in (("false_negative", obstacle & ~above), ("false_positive", ~obstacle & above)):
            expected = {
                f"{score:.{SCORE_DECIMALS}f}__{PurePosixPath(path).name}": path
                for score, path in zip(predictions["score"][mask], predictions["path"][mask])
            }
            found = {p.name for p in (folder / kind).glob("*")} if (folder / kind).exists() else set()
            assert found == set(expected), (tag, kind)
            for name, path in expected.items():
                assert (folder / kind / name).read_bytes() == (root / path).read_bytes()
        page = (folder / "index.html").read_text()
        links = set(HREF.findall(page))
        assert all((folder / link).is_file() for link in links)
        assert links == {p.relative_to(folder).as_posix() for p in folder.glob("*/*")}
        assert "<script" not in page and "http" not in page  # self-contained


def test_wandb_offline_run_of_the_training_run_holds_the_evaluation(trained):
    _, run, out = trained
    run_id = json.loads((out / "metrics.provenance.json").read_text())["wandb_run_id"]
    runs = sorted((run / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(runs) == 2  # training, then evaluation attached to the same id
    media = runs[-1] / "files" / "media"
    for name in ("threshold_metrics", "per_site", "predictions"):
        (table,) = (media / "table" / "eval").glob(f"{name}_*.table.json")
        assert len(json.loads(table.read_text())["data"]) == len(pd.read_csv(out / f"{name}.csv"))
    assert len(list((media / "images" / "eval" / "confusion").glob("t0.*.png"))) == len(THRESHOLDS)
    assert list((media / "images" / "eval").glob("roc_pr_*.png"))


def test_explicit_arguments_write_what_the_command_wrote(trained, tmp_path):
    """`run_evaluation` (what `evaluate(settings)` hands conf/evaluate.yaml's settings to) called directly, as a
    notebook would: the same files, byte for byte, as `python -m obstacles.commands.evaluate`."""
    root, run, out = trained
    wandb_runs = sorted(run.glob("wandb/offline-run-*"))
    report = run_evaluation(
        RunSelection(ckpt_path=None, run_dir=None, experiments_dir=str(root / "experiments")),
        ScoringSettings(
            split="eval",
            thresholds=THRESHOLDS,
            sensitivity=0.9,
            batch_size=4,
            num_workers=0,
            device="auto",
            progress=False,
        ),
        GallerySettings(score_decimals=SCORE_DECIMALS, thumb_width=480),
        DataPaths(datasets_dir=root / "datasets", root_dir=root, manifest_file="manifest.csv"),
        tmp_path / "out",
        {"dataset.name": "tiny"},
        wandb_project=cfg_for(root).wandb.project,
    )
    assert report["out_dir"] == str(tmp_path / "out") and report["dataset"] == "tiny"
    again, written = files(tmp_path / "out"), files(out)
    assert sorted(again) == sorted(written)
    assert [name for name in written if again[name] != written[name]] == [], "files whose bytes differ"
    assert sorted(run.glob("wandb/offline-run-*")) == wandb_runs, "no logger: nothing logged"


def test_default_checkpoint_is_the_latest_finished_runs_preferred_one(tmp_path, capsys):
    experiments = tmp_path / "experiments"
    with pytest.raises(FileNotFoundError, match="no finished run with a checkpoint"):
        find_run(experiments_dir=experiments)
    for name, files in {
        "001.d.a": ["best.ckpt", "last.ckpt", "../run.json"],
        "002.d.b": ["last.ckpt", "../run.json"],
        "003.d.c": ["../run.json"],
        "004.d.killed": ["best.ckpt", "last.ckpt"],  # killed after its first checkpoint: no record
        "notes": ["best.ckpt", "../run.json"],
    }.items():
        (experiments / name / "checkpoints").mkdir(parents=True)
        for file in files:
            (experiments / name / "checkpoints" / file).write_text("{}" if file.endswith(".json") else "")
    latest = find_run(experiments_dir=experiments).checkpoint
    assert latest.relative_to(tmp_path).as_posix() == "experiments/002.d.b/checkpoints/last.ckpt"
    assert "skipping" in (out := capsys.readouterr().out) and "004.d.killed" in out and "run.json" in out
    chosen = find_run(run_dir=str(experiments / "001.d.a"), experiments_dir=str(experiments)).checkpoint
    assert chosen.name == "best.ckpt", "best is preferred over last"
    explicit = find_run(run_dir=str(experiments / "004.d.killed"), experiments_dir=str(experiments)).checkpoint
    assert explicit.parts[-3] == "004.d.killed", "a run folder asked for by name is used, with a warning"
    assert "did not finish" in capsys.readouterr().out
    sweep = experiments / "005.d.sweep-x"
    for job in ("0.alfa_1", "1.alfa_2"):
        (sweep / job / "checkpoints").mkdir(parents=True)
        (sweep / job / "checkpoints" / "best.ckpt").touch()
    (sweep / "0.alfa_1" / "run.json").write_text("{}")
    newest = find_run(experiments_dir=experiments).run_dir
    assert newest.parts[-2:] == ("005.d.sweep-x", "0.alfa_1"), "a sweep's newest finished job"
    assert "1.alfa_2" in capsys.readouterr().out
    (sweep / "1.alfa_2" / "run.json").write_text("{}")
    newest = find_run(experiments_dir=experiments).run_dir
    assert newest.parts[-2:] == ("005.d.sweep-x", "1.alfa_2"), "a sweep's newest job"
    with pytest.raises(FileNotFoundError, match="nope.ckpt: no such file"):
        find_run(str(tmp_path / "nope.ckpt"), experiments_dir=str(experiments))
    with pytest.raises(FileNotFoundError, match="run_dir=.*: no such run folder"):
        find_run(run_dir=str(tmp_path / "missing_run"), experiments_dir=str(experiments))


def copy_run(run: Path, to: Path, edit: tuple[str, str]) -> Path:
    """The run with its config edited (checkpoint shared), as a second run folder."""
    shutil.copytree(run / ".hydra", to / ".hydra")
    (to / "checkpoints").mkdir()
    (to / "checkpoints" / "best.ckpt").symlink_to(run / "checkpoints" / "best.ckpt")
    config = to / ".hydra" / "config.yaml"
    assert edit[0] in config.read_text()
    config.write_text(config.read_text().replace(*edit))
    return to


@pytest.mark.parametrize(
    ("override", "edit", "error", "message"),
    [
        (
            "model.backbone=resnet18",
            None,
            ValueError,
            r"model.backbone='resnet18' \(set for this evaluation\) but checkpoint .* model.backbone='field_cnn'",
        ),
        ("model.in_chans=7", None, ValueError, r"model.in_chans=7 .* trained with model.in_chans=6"),
        (
            None,
            ("with_diff_mask: false", "with_diff_mask: true"),
            ValueError,
            r"data.with_diff_mask=True \(run config .*config.yaml\) gives 7 input channels .* model.in_chans=6",
        ),
        (None, ("backbone: field_cnn", "backbone: resnet18"), ValueError, r"model.backbone='resnet18' \(run config"),
        ("dataset.name=missing", None, FileNotFoundError, r"no manifest at .*missing/manifest.csv"),
        ("eval.split=nope", None, ValueError, r"no rows with split='nope'"),
        ("out_dir=RUN", None, ValueError, r"would replace"),
    ],
    ids=[
        "backbone-override",
        "in_chans-override",
        "run-config-diff-mask",
        "run-config-backbone",
        "missing-dataset",
        "unknown-split",
        "out-dir-is-the-run",
    ],
)
def test_bad_checkpoint_config_or_data_fail_before_scoring(trained, tmp_path, override, edit, error, message):
    root, run, _ = trained
    run_dir = copy_run(run, tmp_path / "run", edit) if edit else run
    overrides = [f"run_dir={run_dir}", f"out_dir={tmp_path / 'out'}"]
    if override:
        overrides.append(override.replace("RUN", str(run)))
    with pytest.raises(error, match=message):
        evaluate(cfg_for(root, *overrides))
    assert not (tmp_path / "out").exists()


def test_an_eval_split_with_one_class_is_rejected(trained, tmp_path):
    root, run, _ = trained
    source = root / "datasets" / "tiny"
    manifest = pd.read_csv(source / "manifest.csv")
    one_class = manifest[(manifest["split"] == "train") | (manifest["label"] == "no_obstacle")]
    (tmp_path / "datasets" / "oneclass").mkdir(parents=True)
    one_class.to_csv(tmp_path / "datasets" / "oneclass" / "manifest.csv", index=False)
    checkpoint = run / "checkpoints" / "last.ckpt"
    cfg = cfg_for(tmp_path, f"ckpt_path={checkpoint}", "dataset.name=oneclass", f"out_dir={tmp_path / 'out'}")
    with pytest.raises(ValueError, match=r"cannot evaluate split 'eval' of .*oneclass.*no obstacle images"):
        evaluate(cfg)


def test_re_evaluation_keeps_dvcs_gitignore_and_refuses_foreign_files(trained, tmp_path):
    """DVC writes (and the repo commits) a .gitignore beside the evaluate stage's cached outputs
    and deletes the outputs before a re-run: that folder must be evaluated into, not refused."""
    root, run, _ = trained
    out = tmp_path / "out"
    out.mkdir()
    (out / ".gitignore").write_text("/predictions.csv\n")
    evaluate(cfg_for(root, f"run_dir={run}", f"out_dir={out}", "wandb.enabled=false"))
    assert (out / "metrics.json").is_file() and (out / ".gitignore").read_text() == "/predictions.csv\n"
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files that are not an evaluation's"):
        evaluate(cfg_for(root, f"run_dir={run}", f"out_dir={stray}", "wandb.enabled=false"))
    assert (stray / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("logger", [pytest.param("csv", marks=pytest.mark.slow), "none"])  # csv: make test-slow
def test_evaluation_and_thresholds_after_training_without_wandb(tmp_path, logger, capsys, trained_run):
    """Documented logger options other than W&B: evaluation and the threshold search still run
    (and log to a W&B run of their own), and a killed run is not taken as the latest."""
    run = trained_run(tmp_path, f"logger={logger}")
    assert not (run / "wandb").exists(), "training itself logged to no W&B run"
    killed = tmp_path / "experiments" / run.name.replace("001.", "002.", 1)
    shutil.copytree(run, killed)
    (killed / "run.json").unlink()  # what a run killed after its first checkpoint leaves
    args = [f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}"] if logger == "csv" else []
    with offline_wandb(tmp_path):  # in this process: the command line is the fixture's and train's test
        evaluate(cfg_for(tmp_path, "eval.batch_size=4", "wandb.enabled=true", *args))
        if not args:
            assert f"skipping {killed}" in capsys.readouterr().out
    provenance = json.loads((run / "eval" / "metrics.provenance.json").read_text())
    assert Path(provenance["checkpoint"]).parent.parent == run
    assert not (killed / "eval").exists()
    run_id = provenance["wandb_run_id"]
    assert run_id and list((run / "wandb").glob(f"offline-run-*-{run_id}")), "evaluation made its own W&B run"
    with offline_wandb(tmp_path):
        search_thresholds(tool_settings("thresholds", [f"predictions={run / 'eval' / 'predictions.csv'}"]))
    thresholds = json.loads((run / "eval" / "thresholds.json").read_text())
    searched = json.loads((run / "eval" / "thresholds.provenance.json").read_text())
    assert searched["wandb"]["run_id"] == run_id, "the threshold search joins the evaluation's run"
    assert searched["checkpoint"] == provenance["checkpoint"], "read from the evaluation's provenance"
    assert 0 <= thresholds["coverage"] <= 1


@pytest.mark.browser
def test_hostile_image_and_site_names_neither_run_script_nor_break_the_gallery(tmp_path, browser):
    """Errors of both kinds whose file, folder, site and run title are hostile; no model needed."""
    image = encode_jpeg(np.full((16, 32, 3), 128, np.uint8), quality=90)
    rows = []
    for k, (stem, site) in enumerate(zip(hostile_stems(), HOSTILE_NAMES)):
        label, score = ("obstacle", 0.1) if k % 2 else ("no_obstacle", 0.9)  # all wrong at 0.5
        path = f"eval/{label}/{HOSTILE_NAMES[3]}/{stem}.jpg"
        (tmp_path / "data" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / path).write_bytes(image)
        rows.append({"path": path, "site": site, "label": label, "score": score})
    title = HOSTILE_NAMES[2]
    write_gallery(
        tmp_path / "out",
        tmp_path / "data",
        pd.DataFrame(rows),
        0.5,
        title=title,
        decimals=SCORE_DECIMALS,
        thumb_width=64,
    )
    page = tmp_path / "out" / "galleries" / "t0.50" / "index.html"
    assert_page_is_safe(browser, page, [title, *HOSTILE_NAMES, *(row["path"] for row in rows)])


def test_evaluation_says_when_its_split_picked_the_checkpoint(tmp_path):
    from obstacles.evaluation.settings import split_caveat
    from obstacles.runs.lookup import Run

    def target(record):
        return Run(tmp_path, tmp_path / "c.ckpt", None, record)

    assert split_caveat(target({"validation_split": "val"}), "eval") is None
    assert "optimistic" in split_caveat(target({"validation_split": "eval"}), "eval")
    assert "optimistic" in split_caveat(target({"validation_split": "val"}), "val")
    assert "not the held-out 'eval'" in split_caveat(target({"validation_split": "val"}), "train")
