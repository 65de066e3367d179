"""Export: TorchScript and ONNX give the checkpoint's scores on real images; the bundle describes its input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from obstacles.commands.export import run
from obstacles.data.dataset import to_tensor
from obstacles.infra.config import compose, tool_settings
from obstacles.io.images import read_pair
from obstacles.runs.loading import load_classifier
from obstacles.thresholds.job import search_thresholds
from obstacles.weights.curve import diff_mask
from tests.helpers.project import REPO

pytestmark = pytest.mark.long  # scheduled first (tests/conftest.py)
PARITY_ATOL = 1e-4
PANEL = 32


@pytest.fixture(scope="module", params=[6, 7], ids=["pair", "pair+diff_mask"])
def exported(request, tmp_path_factory, trained_run):
    """A trained run with 6 or 7 input channels, a thresholds.json beside it, and its bundle."""
    root = tmp_path_factory.mktemp(f"export{request.param}")
    overrides = ("data.with_diff_mask=true", "model.in_chans=7") if request.param == 7 else ()
    run_dir = trained_run(root, *overrides, panel=PANEL)
    (run_dir / "eval").mkdir()
    write_eval_predictions(run_dir / "eval" / "predictions.csv")
    search_thresholds(
        tool_settings(
            "thresholds",
            [f"predictions={run_dir / 'eval' / 'predictions.csv'}", "wandb.enabled=false", "sweep.max_missed=[0.05]"],
        )
    )
    out = run(compose("export", [f"paths.root_dir={root}", f"panel_size={PANEL}"]))
    return root, run_dir, out


def write_eval_predictions(path: Path, n: int = 3000) -> None:
    """Eval predictions numerous enough for the default limits to be certifiable on both sides."""
    rng = np.random.default_rng(11)
    is_obstacle = rng.random(n) < 0.5
    scores = np.round(np.where(is_obstacle, rng.beta(6, 1.5, n), rng.beta(1.5, 6, n)), 4)
    pd.DataFrame(
        {
            "path": [f"eval/{i}.jpg" for i in range(n)],
            "site": rng.choice(["site_a", "site_b"], n),
            "label": np.where(is_obstacle, "obstacle", "no_obstacle"),
            "score": scores,
        }
    ).to_csv(path, index=False)


def real_batch(root: Path, with_mask: bool) -> tuple[torch.Tensor, list[str]]:
    """Every image of the tiny dataset as the training pipeline reads it."""
    manifest = pd.read_csv(root / "datasets" / "tiny" / "manifest.csv")
    tensors = []
    for path, threshold in zip(manifest["path"], manifest["pixel_threshold"]):
        reference, current = read_pair(root / path)
        mask = diff_mask(reference, current, threshold).astype(np.uint8) if with_mask else None
        tensors.append(to_tensor(reference, current, mask))
    return torch.stack(tensors), list(manifest["path"])


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_exported_models_give_the_checkpoint_scores_on_real_images(exported):
    import onnxruntime

    root, run_dir, out = exported
    model = load_classifier(run_dir / "checkpoints" / "best.ckpt")
    images, _ = real_batch(root, model.hparams.in_chans == 7)
    with torch.inference_mode():
        expected = model.predict_step({"image": images}, 0).numpy()
        scripted = torch.jit.load(str(out / "model.ts"))(images).numpy()
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    (onnx_scores,) = session.run(["score"], {"image": images.numpy()})
    assert expected.shape == (len(images),) and 0.0 <= expected.min() and expected.max() <= 1.0
    np.testing.assert_allclose(scripted, expected, atol=PARITY_ATOL)
    np.testing.assert_allclose(onnx_scores, expected, atol=PARITY_ATOL)


def test_bundle_describes_the_input_and_carries_the_thresholds(exported):
    root, run_dir, out = exported
    assert out == root / "exports" / run_dir.name, "never inside the DVC-tracked run folder"
    assert not (run_dir / "export").exists()
    spec = json.loads((out / "preprocessing.json").read_text())
    in_chans = spec["in_chans"]
    assert spec["input"]["shape"] == ["batch", in_chans, PANEL, PANEL]
    assert spec["panel_order"] == ["reference", "current"] and spec["channel_order"] == "RGB"
    assert spec["scaling"]["divide_by"] == 255.0 and len(spec["channels"]) == in_chans
    assert spec["diff_mask"]["used"] == (in_chans == 7)
    if in_chans == 7:
        assert spec["diff_mask"]["pixel_threshold_per_site"] == {"site_a": 50.0, "site_b": 50.0}
    searched = json.loads((run_dir / "eval" / "thresholds.json").read_text())
    bundled = json.loads((out / "thresholds.json").read_text())
    assert {k: v for k, v in bundled.items() if k != "deployment"} == searched  # the search's numbers, all of them
    assert json.loads((out / "thresholds.provenance.json").read_text()) == json.loads(
        (run_dir / "eval" / "thresholds.provenance.json").read_text()
    )
    assert "with_diff_mask" in (out / "run_config.yaml").read_text()


def test_bundled_thresholds_are_the_certified_pair_and_say_so(exported):
    _, run_dir, out = exported
    searched = json.loads((run_dir / "eval" / "thresholds.json").read_text())
    deployment = json.loads((out / "thresholds.json").read_text())["deployment"]
    assert searched["certified_search"] and searched["rounded"]["certified"] and searched["confidence"] == 0.95
    assert searched["lower_rounded"] >= 0 and searched["upper_rounded"] < 1, "both sides decide images here"
    assert (deployment["lower"], deployment["upper"]) == (searched["lower_rounded"], searched["upper_rounded"])
    assert deployment["certified"] is True and deployment["confidence"] == 0.95
    assert deployment["guarantee"].startswith("certified: with 95% confidence")
    assert "at most 1% of obstacles are missed" in deployment["guarantee"]
    assert deployment["rule"].startswith("score <= lower: no_obstacle; score > upper: obstacle")
    # the empirical optimum beside it decides more, but is not the one shipped
    assert searched["empirical"]["coverage_rounded"] >= searched["rounded"]["coverage"]


def test_thresholds_without_bounds_are_bundled_as_not_certified(exported, tmp_path):
    root, _, _ = exported
    old = tmp_path / "thresholds.json"
    old.write_text(json.dumps({"lower": 0.2, "upper": 0.8}))  # a file from before certified mode
    out = run(
        compose(
            "export",
            [
                f"paths.root_dir={root}",
                f"panel_size={PANEL}",
                f"thresholds_path={old}",
                f"out_dir={tmp_path / 'bundle'}",
            ],
        )
    )
    bundled = json.loads((out / "thresholds.json").read_text())
    assert (bundled["lower"], bundled["upper"]) == (0.2, 0.8)
    assert bundled["deployment"]["certified"] is False
    assert bundled["deployment"]["guarantee"].startswith("not certified")
    assert (bundled["deployment"]["lower"], bundled["deployment"]["upper"]) == (0.2, 0.8)


def test_missing_checkpoint_or_thresholds_file_is_an_error(exported, tmp_path):
    root, _, _ = exported
    with pytest.raises(FileNotFoundError, match=f"checkpoint {tmp_path / 'nope.ckpt'}: no such file"):
        run(compose("export", [f"paths.root_dir={root}", f"ckpt_path={tmp_path / 'nope.ckpt'}"]))
    with pytest.raises(FileNotFoundError, match=f"thresholds_path {tmp_path / 't.json'}: no such file"):
        run(
            compose(
                "export",
                [f"paths.root_dir={root}", f"thresholds_path={tmp_path / 't.json'}", f"out_dir={tmp_path / 'out'}"],
            )
        )
    assert not (tmp_path / "out").exists()


def write_champion_report(folder: Path, checkpoint: Path, *, worse: bool) -> Path:
    """A champion comparison of `checkpoint` (its evaluation's provenance names it) in which the
    challenger is clearly worse than the deployed score (or clearly better), on 300 frames."""
    from obstacles.commands.champion import run as compare
    from obstacles.io.provenance import file_sha256

    rng = np.random.default_rng(5)
    n = 300
    is_obstacle = rng.random(n) < 0.5
    sharp = np.clip(rng.normal(np.where(is_obstacle, 0.75, 0.25), 0.12), 0, 1).round(4)
    vague = np.clip(rng.normal(np.where(is_obstacle, 0.55, 0.45), 0.15), 0, 1).round(4)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "path": [f"eval/{i}.jpg" for i in range(n)],
            "site": "site_a",
            "label": np.where(is_obstacle, "obstacle", "no_obstacle"),
            "score": vague if worse else sharp,
            "deployed_score": sharp if worse else vague,
        }
    ).to_csv(folder / "predictions.csv", index=False)
    provenance = {"checkpoint": str(checkpoint), "checkpoint_sha256": file_sha256(checkpoint)}
    (folder / "metrics.provenance.json").write_text(json.dumps(provenance))
    compare(compose("champion", [f"challenger={folder}", "wandb.enabled=false", "bootstrap.resamples=20"]))
    return folder / "champion" / "champion.json"


def test_a_significantly_worse_challenger_is_refused_unless_allowed(exported, tmp_path):
    from obstacles.deployment.bundle import ChallengerWorse

    root, run_dir, _ = exported
    report = write_champion_report(tmp_path / "eval", run_dir / "checkpoints" / "best.ckpt", worse=True)
    base = [f"paths.root_dir={root}", f"panel_size={PANEL}", f"champion_report={report}"]
    with pytest.raises(ChallengerWorse, match=r"significantly worse than its champion") as refused:
        run(compose("export", [*base, f"out_dir={tmp_path / 'refused'}"]))
    message = str(refused.value)
    for figure in (
        "challenger AUROC 0.",
        "vs champion 0.",
        "same 300 frames",
        "difference -0.",
        "95% CI",
        "DeLong p =",
    ):
        assert figure in message, (figure, message)
    assert not (tmp_path / "refused").exists(), "nothing written"
    out = run(compose("export", [*base, f"out_dir={tmp_path / 'allowed'}", "allow_worse=true"]))
    bundled = json.loads((out / "champion.json").read_text())
    assert bundled["verdict_in_words"] == "worse" and bundled["verdict"] == -1 and bundled["allowed_worse"] is True
    assert bundled["report"] == json.loads(report.read_text())


def test_the_bundle_records_the_verdict_of_its_own_checkpoint_only(tmp_path, trained_run):
    run_dir = trained_run(tmp_path, panel=PANEL)  # a copy of the module's 6-channel run
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    write_champion_report(run_dir / "eval", checkpoint, worse=False)  # where the command puts a run's
    out = run(compose("export", [f"paths.root_dir={tmp_path}", f"panel_size={PANEL}"]))
    bundled = json.loads((out / "champion.json").read_text())
    assert bundled["compared"] is True and bundled["verdict_in_words"] == "better"
    assert bundled["allowed_worse"] is False and "DeLong p =" in bundled["figures"]
    # a report about another checkpoint neither gates nor describes this one
    provenance = run_dir / "eval" / "champion" / "champion.provenance.json"
    record = json.loads(provenance.read_text())
    record["challenger_from"]["checkpoint_sha256"] = "0" * 64
    provenance.write_text(json.dumps(record))
    out = run(compose("export", [f"paths.root_dir={tmp_path}", f"panel_size={PANEL}", f"out_dir={tmp_path / 'b'}"]))
    assert json.loads((out / "champion.json").read_text())["compared"] is False


def test_the_default_bundle_folder_is_git_ignored_and_outside_the_run(tmp_path):
    """Issue 21 item 5: the bundle went into the DVC-tracked run folder, which the next `dvc repro` deletes."""
    from obstacles.deployment.bundle import default_export_dir
    from obstacles.runs.lookup import find_run

    experiments = tmp_path / "experiments"
    job = experiments / "001.x.sweep" / "0.weights.alfa_-2.0" / "checkpoints"
    job.mkdir(parents=True)
    (job / "last.ckpt").touch()
    trained = find_run(job / "last.ckpt")
    assert default_export_dir(trained.run_dir, experiments, tmp_path / "exports") == (
        tmp_path / "exports" / "001.x.sweep" / "0.weights.alfa_-2.0"
    )
    ignored = subprocess.run(["git", "check-ignore", "-q", "exports/000.demo/model.onnx"], cwd=REPO, check=False)
    assert ignored.returncode == 0, "exports/ is git-ignored"


# ---------------------------------------------------------------- the input contract (issue 21 item 6)


def ruled_out(images: torch.Tensor, with_mask: bool) -> dict[str, torch.Tensor]:
    """Real images broken the ways a processor's preprocessing goes wrong."""
    cases = {"unscaled 0-255": images * 255.0, "negative": images - 1.0}
    for name, value in (("NaN", float("nan")), ("inf", float("inf"))):
        bad = images.clone()
        bad[0, 0, 0, 0] = value
        cases[name] = bad
    cases[f"{2 * PANEL}x{2 * PANEL} panels"] = torch.nn.functional.interpolate(images, scale_factor=2.0)
    cases["one channel more"] = torch.cat([images, images[:, :1]], dim=1)
    if with_mask:
        bad = images.clone()
        bad[:, -1] = 0.5
        cases["diff mask of 0.5"] = bad
    return cases


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_both_models_refuse_the_inputs_the_contract_rules_out(exported):
    """ONNX scored a NaN input NaN and unscaled 0-255 pixels a plausible 0.0; TorchScript scored
    64x64 panels that ONNX refused. Both now refuse each, the same ones."""
    import onnxruntime

    from obstacles.deployment.contract import ONNX_REFUSAL_NODE

    root, _, out = exported
    spec = json.loads((out / "preprocessing.json").read_text())
    with_mask = spec["diff_mask"]["used"]
    images, _ = real_batch(root, with_mask)
    scripted = torch.jit.load(str(out / "model.ts"))
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    for case, bad in ruled_out(images, with_mask).items():
        with pytest.raises(torch.jit.Error, match="input contract"):
            scripted(bad)
        with pytest.raises(Exception) as refused:  # onnxruntime's own error types
            session.run(["score"], {"image": bad.numpy()})
        if bad.shape == images.shape:  # a value, not a shape: refused by the graph's own guard
            assert ONNX_REFUSAL_NODE in str(refused.value), (case, str(refused.value))
    assert any("outside [0, 1]" in rule for rule in spec["refused"]) and len(spec["refused"]) == 2 + with_mask


def test_the_bundle_check_script_shows_both_models_refusing(exported):
    """check_bundle.py runs standalone in the bundle (no project import) and exits 0 only when both
    runtimes agree on a valid input and refuse every ruled-out one."""
    import sys

    _, _, out = exported
    assert json.loads((out / "preprocessing.json").read_text())["files"]["check"] == "check_bundle.py"
    shown = subprocess.run(
        [sys.executable, "-I", "check_bundle.py"], cwd=out, capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    for case in ("a NaN pixel", "unscaled 0-255 pixels", f"{2 * PANEL}x{2 * PANEL} panels", "float64"):
        at = next(i for i, line in enumerate(lines) if line.startswith(case + ": check_input refuses"))
        assert lines[at + 1].startswith("  TorchScript refuses") and lines[at + 2].startswith("  ONNX refuses")
    assert "ACCEPTS" not in shown.stdout and "the runtimes agree within 0.0001: True" in shown.stdout


def test_a_loader_names_every_broken_rule_before_the_model_runs(exported):
    from obstacles.deployment.check_bundle import Models, check_input, guarded_score, valid_input

    _, _, out = exported
    spec = json.loads((out / "preprocessing.json").read_text())
    x = valid_input(spec)
    assert check_input(x, spec) == []
    unscaled = np.round(x * 255).astype(np.float64)
    unscaled[0, 0, 0, 0] = np.nan
    broken = check_input(unscaled, spec)
    assert broken[0] == "dtype float64: must be float32" and broken[1] == "values not finite (NaN or inf)"
    assert broken[2].startswith("values in [0, 255]: must be in [0, 1]")
    with pytest.raises(ValueError, match="input refused: dtype float64"):
        guarded_score(Models(out, spec), unscaled, spec)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_dynamic_panel_size_is_dynamic_for_both_models(exported, tmp_path):
    """One setting for both runtimes: fixed (the default) refuses another size in both; dynamic takes
    it in both, and both still refuse values outside [0, 1]."""
    import onnxruntime

    root, _, _ = exported
    out = run(
        compose(
            "export",
            [f"paths.root_dir={root}", f"panel_size={PANEL}", "dynamic_panel_size=true", f"out_dir={tmp_path / 'b'}"],
        )
    )
    spec = json.loads((out / "preprocessing.json").read_text())
    assert spec["input"]["shape"][2:] == ["height", "width"]
    images, _ = real_batch(root, spec["diff_mask"]["used"])
    larger = torch.nn.functional.interpolate(images, scale_factor=2.0, mode="nearest")
    scripted = torch.jit.load(str(out / "model.ts"))
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = scripted(larger).numpy()
    (onnx_scores,) = session.run(["score"], {"image": larger.numpy()})
    np.testing.assert_allclose(onnx_scores, expected, atol=PARITY_ATOL)
    with pytest.raises(torch.jit.Error, match="input contract"):
        scripted(larger * 255.0)
    with pytest.raises(Exception, match="refuse_input"):
        session.run(["score"], {"image": (larger * 255.0).numpy()})
