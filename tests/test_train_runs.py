"""Training end to end on a tiny dataset: every weighting mode, bad configs, sweeps, resume, W&B."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch

from obstacles.io.provenance import file_sha256
from obstacles.training.job import train
from obstacles.training.weighting import WEIGHTING_MODES
from tests.helpers.commands import run_in_process, run_module
from tests.helpers.training import train_cfg, write_pair_dataset

pytestmark = pytest.mark.long  # scheduled first (tests/conftest.py)
QUICK = ("model=field_cnn", "data.batch_size=4", "debug=limit")
RUN_FILES = (
    "checkpoints/last.ckpt",
    "checkpoints/best.ckpt",
    ".hydra/config.yaml",
    "curves.csv",
    "curves.png",
    "samples.png",
    "run.json",
)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    write_pair_dataset(root, n_pairs=16, panel=32)
    return root


def run_training(
    root: Path, *overrides: str, multirun: bool = False, fresh_process: bool = False
) -> subprocess.CompletedProcess:
    """The training command's main in this process or (`fresh_process`: DDP starts its other ranks
    from the command line) as `python -m obstacles.commands.train`, W&B offline and kept inside root."""
    return (run_module if fresh_process else run_in_process)(
        root,
        "obstacles.commands.train",
        *(["-m"] if multirun else []),
        f"paths.root_dir={root}",
        "dataset.name=tiny",
        *overrides,
    )


@pytest.mark.parametrize("mode", sorted(WEIGHTING_MODES))
def test_fast_dev_run_in_every_weighting_mode(root, tmp_path, mode):
    cfg = train_cfg(root, "debug=fdr", "model=field_cnn", f"weighting={mode}", output_dir=tmp_path)
    assert 0.0 <= train(cfg) <= 1.0, "the optimized metric (val/auroc) of the one-step run"
    assert (tmp_path / "curves.csv").is_file() and (tmp_path / "samples.png").is_file()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.backbone=resnet_nope", "unknown backbone 'resnet_nope'"),
        ("data.with_diff_mask=true", r"model.in_chans=6 but data.with_diff_mask=True gives 7 channels"),
        ("model.in_chans=5", "model.in_chans=5: must be 6"),
        ("dataset.name=missing", "dataset 'missing': no manifest"),
    ],
)
def test_bad_configs_fail_before_training(root, tmp_path, override, message):
    cfg = train_cfg(root, "debug=fdr", "model=field_cnn", override, output_dir=tmp_path / "out")
    with pytest.raises(Exception, match=message):
        train(cfg)
    assert not (tmp_path / "out").exists()


def refused(root: Path, *overrides: str, multirun: bool = False, fresh_process: bool = False) -> str:
    """stderr of a training command that must be refused (non-zero exit), in this process or
    (`fresh_process`) as `python -m obstacles.commands.train`."""
    args = (*(["-m"] if multirun else []), f"paths.root_dir={root}", *overrides)
    runner = run_module if fresh_process else run_in_process
    return runner(root, "obstacles.commands.train", *args, succeed=False).stderr


@pytest.mark.parametrize("multirun", [False, True], ids=["run", "sweep"])
def test_a_refused_config_gets_no_run_folder(tmp_path, multirun):
    write_pair_dataset(tmp_path, n_pairs=8, panel=16)
    sweep = ["weights.alfa=-2.0,-5.0"] if multirun else []
    err = refused(
        tmp_path, "dataset.name=tiny", "experiment=demo", "model.backbone=resnet_nope", *sweep, multirun=multirun
    )
    assert "unknown backbone 'resnet_nope'" in err and "no run folder was made" in err
    assert "Traceback" not in err
    experiments = tmp_path / "experiments"
    assert not experiments.exists() or not [p for p in experiments.iterdir() if p.name[:1].isdigit()]


def test_run_folder_names_the_backbone_asked_for(tmp_path):
    cfg = train_cfg(tmp_path, "experiment=demo", "model.backbone=resnet18", "model.in_chans=7")
    assert cfg.run_info == "demo-resnet18"


@pytest.mark.parametrize("damage", ["missing", "empty"])
def test_a_missing_or_empty_image_is_named_before_the_first_step(tmp_path, damage):
    dataset = write_pair_dataset(tmp_path, n_pairs=16, panel=32)
    manifest = pd.read_csv(dataset / "manifest.csv")
    lost = manifest["path"].iloc[-1]  # an eval image: every file of the manifest is checked
    (tmp_path / lost).unlink() if damage == "missing" else (tmp_path / lost).write_bytes(b"")
    cfg = train_cfg(
        tmp_path,
        "model=field_cnn",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=2",
        output_dir=tmp_path / "out",
    )
    with pytest.raises(
        FileNotFoundError, match=rf"1 of {len(manifest)} image file\(s\) .* first \['{lost} \({damage}\)'\]"
    ):
        train(cfg)
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_the_command_line_names_missing_and_empty_images_and_makes_no_run_folder(tmp_path):
    """The training command line's test: one process for both kinds (the check above runs
    in-process for each)."""
    dataset = write_pair_dataset(tmp_path, n_pairs=16, panel=32)
    paths = pd.read_csv(dataset / "manifest.csv")["path"]
    missing, empty = paths.iloc[-1], paths.iloc[0]
    (tmp_path / missing).unlink()
    (tmp_path / empty).write_bytes(b"")
    err = refused(tmp_path, "dataset.name=tiny", "model=field_cnn", fresh_process=True)
    assert f"{missing} (missing)" in err and f"{empty} (empty)" in err and "no run folder was made" in err
    assert "Traceback" not in err
    experiments = tmp_path / "experiments"
    assert not experiments.exists() or not [p for p in experiments.iterdir() if p.name[:1].isdigit()]


def wandb_record(job: Path) -> bytes:
    """The offline W&B run's record file (protobuf records: keys and strings stay readable)."""
    (record,) = job.glob("wandb/offline-run-*/run-*.wandb")
    return record.read_bytes()


def test_sweep_runs_each_job_in_its_own_folder_grouped_in_wandb(root):
    run_training(root, *QUICK, "trainer.max_epochs=1", "weights.alfa=-2.0,-5.0", multirun=True)
    (sweep,) = (root / "experiments").glob("*.tiny.sweep-*")
    assert sweep.name.startswith("001.")
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [job.name.split(".", 1)[0] for job in jobs] == ["0", "1"]
    assert "weights.alfa_-2.0" in jobs[0].name and "weights.alfa_-5.0" in jobs[1].name
    manifest_sha = file_sha256(root / "datasets" / "tiny" / "manifest.csv").encode()
    for job, alfa in zip(jobs, ("-2.0", "-5.0")):
        for name in RUN_FILES:
            assert (job / name).is_file(), f"{job.name} lacks {name}"
        assert f"alfa: {alfa}" in (job / ".hydra" / "config.yaml").read_text()
        run_record = json.loads((job / "run.json").read_text())
        assert run_record["wandb_group"] == sweep.name and run_record["best_checkpoint"].endswith("best.ckpt")
        record = wandb_record(job)
        logged = (b"val/auroc", b"train/loss", b"val/spec_at_sens90", b"model/params", b"manifest_sha256", manifest_sha)
        for key in (*logged, f'"alfa":{alfa}'.encode(), run_record["wandb_run_id"].encode()):
            assert key in record, f"W&B run of {job.name} lacks {key!r}"
        assert sweep.name.encode() in record  # the W&B group
        assert list(job.glob("wandb/offline-run-*/files/media/images/samples_*.png"))


def test_resume_continues_the_run_in_its_folder(root, tmp_path):
    resume_root = tmp_path
    write_pair_dataset(resume_root, n_pairs=16, panel=32)
    run_training(resume_root, *QUICK, "logger=csv", "trainer.max_epochs=1")
    (run,) = (resume_root / "experiments").glob("001.*")
    last = run / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 2  # debug=limit: 2 batches per epoch
    run_training(resume_root, *QUICK, "logger=csv", "trainer.max_epochs=2", f"ckpt_path={last}")
    assert [p.name for p in (resume_root / "experiments").glob("0*")] == [run.name]
    assert torch.load(last, weights_only=False)["global_step"] == 4
    assert set(pd.read_csv(run / "csv" / "version_1" / "metrics.csv")["epoch"]) == {1}  # continued at epoch 1
    assert pd.read_csv(run / "curves.csv")["epoch"].tolist() == [0, 1]
    assert "max_epochs: 1" in (run / ".hydra" / "config.yaml").read_text()
    assert "max_epochs: 2" in (run / ".hydra" / "resume-1" / "config.yaml").read_text()


@pytest.mark.slow
def test_ddp_ranks_share_one_run_folder_and_the_weighted_sampler(root):
    cpu_ddp = ("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true")
    run_training(
        root, *QUICK, *cpu_ddp, "trainer.sync_batchnorm=false", "weighting=sampler", "logger=csv", fresh_process=True
    )
    (run,) = (root / "experiments").glob("*.tiny.debug-field_cnn-sampler")
    assert (run / "train_ddp_process_1.log").is_file() and (run / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_optuna_search_returns_auroc_per_trial(root):
    result = run_training(root, *QUICK, "trainer.max_epochs=1", "hparams_search=optuna", "hydra.sweeper.n_trials=2")
    assert "Best value" in result.stdout + result.stderr


@pytest.mark.slow  # two trainings with loader worker processes, then evaluation and thresholds
def test_same_seed_config_and_data_give_a_bit_identical_checkpoint_and_metrics(tmp_path):
    """Loader workers, augmentation and the weighted sampler on: two trainings in the same folder
    give the same best.ckpt bytes, and the same evaluation and thresholds (run ids aside)."""
    from omegaconf import OmegaConf

    from obstacles.evaluation.job import evaluate
    from obstacles.infra.config import tool_settings
    from obstacles.thresholds.job import search_thresholds

    write_pair_dataset(tmp_path, n_pairs=32, panel=32)
    overrides = (
        "model=field_cnn",
        "data.batch_size=4",
        "data.num_workers=1",
        "augment=strong",
        "weighting=both",
        "trainer.max_epochs=2",
        "logger=none",
        "seed=7",
    )
    out, outcomes = tmp_path / "run", []
    for attempt in range(2):
        cfg = train_cfg(tmp_path, *overrides, output_dir=out)
        assert cfg.trainer.deterministic is True, "deterministic by default"
        train(cfg)
        (out / ".hydra").mkdir()
        OmegaConf.save(cfg, out / ".hydra" / "config.yaml", resolve=True)  # what Hydra writes for a CLI run
        evaluated = evaluate(
            tool_settings(
                "evaluate",
                [
                    f"paths.root_dir={tmp_path}",
                    f"run_dir={out}",
                    f"out_dir={tmp_path / f'eval{attempt}'}",
                    "wandb.enabled=false",
                    "eval.progress=false",
                    "eval.num_workers=1",
                ],
            )
        )
        searched = search_thresholds(
            tool_settings(
                "thresholds", [f"predictions={tmp_path / f'eval{attempt}' / 'predictions.csv'}", "wandb.enabled=false"]
            )
        )
        outcomes.append(((out / "checkpoints" / "best.ckpt").read_bytes(), evaluated, searched))
        shutil.rmtree(out)
    (ckpt_a, eval_a, thresholds_a), (ckpt_b, eval_b, thresholds_b) = outcomes
    assert ckpt_a == ckpt_b, "bit-identical best.ckpt"
    volatile = {"out_dir", "predictions", "provenance", "wandb_run_id", "git_commit", "git_dirty"}
    strip = lambda d: {k: v for k, v in d.items() if k not in volatile}  # noqa: E731
    assert strip(eval_a) == strip(eval_b) and eval_a["auroc"] == eval_b["auroc"]
    assert strip(thresholds_a) == strip(thresholds_b)


def test_resume_checks_the_checkpoint_and_its_settings_before_touching_the_run(tmp_path, trained_run):
    """Issue 21 items 5 and 7: a truncated last.ckpt failed only after run.json was set aside (a
    finished run then read as unfinished); a run resumed without its own settings composed the
    default resnet18 and died in load_state_dict with a hundred-line key list."""
    run = trained_run(tmp_path)  # field_cnn, 6 channels
    record = (run / "run.json").read_bytes()
    best, last = run / "checkpoints" / "best.ckpt", run / "checkpoints" / "last.ckpt"
    with pytest.raises(ValueError) as refused:
        train(train_cfg(tmp_path, f"ckpt_path={best}", output_dir=run))  # the default model: resnet18
    message = str(refused.value)
    assert "model.backbone: run 'field_cnn', composed 'resnet18'" in message
    assert "model=field_cnn" in message and "nothing was built or changed" in message
    assert "load_state_dict" not in message and len(message.splitlines()) < 10
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a copy cut short
    with pytest.raises(ValueError, match=f"cannot read checkpoint {last}"):
        train(train_cfg(tmp_path, "model=field_cnn", f"ckpt_path={last}", output_dir=run))
    assert (run / "run.json").read_bytes() == record, "the finished run still reads as finished"
    assert not list(run.glob("run.json.*"))
