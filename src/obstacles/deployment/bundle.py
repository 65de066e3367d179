"""Deployment bundle of a trained classifier: `export_bundle(run, settings)`.

The video processor runs neither Lightning nor our data code, so the bundle states everything a
re-implementation of the input pipeline needs (preprocessing.json) and holds the model in two
runtimes' formats, both returning the obstacle score (sigmoid of the logit), not the logit:

- model.ts: TorchScript (torch.jit.load), model.onnx: ONNX (onnxruntime and others); both refuse
  the inputs the preprocessing contract rules out (values outside [0, 1] or not finite, another
  shape, a diff mask other than 0/1: obstacles.deployment.contract says how and why);
- preprocessing.json: panel size and order, channel order, scaling, input shape, in_chans, the
  diff-mask channel and its pixel threshold, the refused inputs in words;
- check_bundle.py: a standalone check (obstacles.deployment.check_bundle) that scores a valid input
  with both models and shows both refusing each ruled-out input;
- thresholds.json: the run's deployment thresholds (from evaluation), when present, with a
  ``deployment`` section saying in words which pair to apply, by what rule, and what it guarantees:
  certified at its confidence (`obstacles.thresholds`' default) or only empirical; and what
  produced them (thresholds.provenance.json, the search's sibling file), when that is present;
- run_config.yaml: the training run's config, when present;
- champion.json: the verdict of the champion comparison (obstacles.champion) of this checkpoint,
  with its figures, or a note that it was never compared. A challenger significantly worse than its
  champion is not exported unless ``allow_worse`` (ChallengerWorse names the figures).

Which comparison counts (`champion_source`): an explicit report, else the first of
`<run>/eval/champion/champion.json` (the command's default for a run) and
`<reports_dir>/<dataset>/champion/champion.json` (the DVC stage's, for the dataset the run trained on)
whose provenance names this very checkpoint (its sha256): a report about another checkpoint never
gates or describes this one.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from obstacles.champion import wording as champion_wording
from obstacles.deployment import check_bundle
from obstacles.deployment.contract import ONNX_REFUSAL_NODE, GuardedScoreModel, InputContract, add_onnx_guard
from obstacles.deployment.settings import ModelFormat
from obstacles.io.outputs import atomic_dir, write_text_atomic
from obstacles.io.provenance import file_sha256
from obstacles.lineage.names import PAIR_CHANNELS
from obstacles.runs.layout import (
    CHAMPION_DIR,
    CHAMPION_FILE,
    CHAMPION_PROVENANCE_FILE,
    EVAL_DIR,
    THRESHOLDS_FILE,
    THRESHOLDS_PROVENANCE_FILE,
)
from obstacles.runs.loading import load_classifier
from obstacles.runs.lookup import Run
from obstacles.thresholds import wording

TORCHSCRIPT_NAME = "model.ts"
ONNX_NAME = "model.onnx"
CHECK_SCRIPT_NAME = "check_bundle.py"
INPUT_NAME, OUTPUT_NAME = "image", "score"
RUN_CONFIG_NAME = "run_config.yaml"  # in the bundle: the training run's config
RUN_THRESHOLDS = Path(EVAL_DIR) / THRESHOLDS_FILE
RUN_CHAMPION = Path(EVAL_DIR) / CHAMPION_DIR / CHAMPION_FILE  # `python -m obstacles.commands.champion challenger=<run>`
STAGE_CHAMPION = Path(CHAMPION_DIR) / CHAMPION_FILE  # under <reports_dir>/<dataset>/: the DVC stage's
UINT8_MAX = 255.0
PANEL_ORDER = ("reference", "current")
RGB = ("R", "G", "B")


class ChallengerWorse(RuntimeError):
    """The checkpoint is significantly worse than its champion; the message names the figures."""


@dataclass(frozen=True)
class Bundle:
    """What was exported from where, and the thresholds it carries (None: the run had none)."""

    checkpoint: Path
    out_dir: Path
    opset: int
    thresholds: Path | None
    deployment: dict | None
    champion: dict | None = None  # the bundle's champion.json

    def summary(self) -> str:
        """One line for the command's output: where it went and which pair it ships."""
        if self.deployment is None:
            carried = "no thresholds.json (evaluate the run first)"
        else:
            deployment = self.deployment
            kind = f"certified at {deployment['confidence']:g}" if deployment["certified"] else "NOT certified"
            pair = f"lower {deployment['lower']:g}, upper {deployment['upper']:g}"
            carried = f"thresholds.json from {self.thresholds} ({kind}: {pair})"
        compared = (self.champion or {}).get("verdict_in_words", "not compared with a champion")
        return (
            f"[export] {self.checkpoint} -> {self.out_dir}: {TORCHSCRIPT_NAME}, {ONNX_NAME} "
            f"(opset {self.opset}), {carried}; against its champion: {compared}"
        )


class ScoreModel(torch.nn.Module):
    """The classifier's network with its sigmoid: deployed code gets scores, as `predict_step` does.

    Holds the backbone only: tracing the LightningModule itself would touch its Trainer.
    """

    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.backbone(image).squeeze(1))


def input_contract(settings: ModelFormat, in_chans: int, size: int) -> InputContract:
    """The contract both models enforce: the exported panel size fixed unless H and W are dynamic."""
    with_mask = in_chans > PAIR_CHANNELS
    return InputContract(
        in_chans=in_chans,
        panel_size=None if settings.dynamic_panel_size else size,
        mask_channel=in_chans - 1 if with_mask else None,
    )


def export_torchscript(model: ScoreModel, example: torch.Tensor, path: Path, contract: InputContract) -> None:
    """The network traced (no data-dependent control flow), behind GuardedScoreModel compiled with
    torch.jit.script, so that the contract's checks stay control flow that raises; torch warns
    that TorchScript will give way to torch.export, but TorchScript is what the processor loads today."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example)
        guarded = torch.jit.script(GuardedScoreModel(traced, contract))
        torch.jit.save(guarded, str(path))


def export_onnx(
    model: ScoreModel, example: torch.Tensor, path: Path, opset: int, dynamic_panel_size: bool, contract: InputContract
) -> None:
    """The TorchScript-based exporter (dynamo=False): no onnxscript dependency, a fixed opset; then
    the contract's checks added to the graph (`add_onnx_guard`: ONNX cannot raise)."""
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_panel_size else {0: "batch"}
    plain = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"torch\.onnx")  # its notes on the TorchScript-based exporter
        torch.onnx.export(
            model,
            (example,),
            plain,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: {0: "batch"}},
        )
    graph = onnx.load_from_string(plain.getvalue())
    add_onnx_guard(graph, contract, INPUT_NAME, OUTPUT_NAME)
    onnx.save(graph, str(path))


def site_pixel_thresholds(run_config: DictConfig | None) -> dict[str, float]:
    """site -> pixel_threshold from the training run's manifest, if it can still be read."""
    try:
        manifest = Path(run_config.dataset.manifest)
    except Exception:  # no config, or an interpolation that cannot resolve here
        return {}
    if not manifest.is_file():
        return {}
    table = pd.read_csv(manifest, usecols=["site", "pixel_threshold"]).drop_duplicates("site")
    return {str(site): float(value) for site, value in zip(table["site"], table["pixel_threshold"])}


def diff_mask_spec(pixel_threshold: float | None, with_mask: bool, run_config: DictConfig | None) -> dict:
    spec = {
        "used": with_mask,
        "rule": "channel 7 = 1 where max over R, G, B of |current - reference| (uint8) > pixel_threshold, "
        "else 0; not divided by 255",
    }
    if with_mask:
        spec["pixel_threshold"] = None if pixel_threshold is None else float(pixel_threshold)
        spec["pixel_threshold_per_site"] = site_pixel_thresholds(run_config)
    return spec


def model_panel_size(settings: ModelFormat, run_config: DictConfig | None) -> int:
    """The panel size the model was trained at: explicit, else the run's data.panel_size, else as stored."""
    trained = OmegaConf.select(run_config, "data.panel_size") if run_config is not None else None
    return int(settings.panel_size or trained or settings.stored_panel_size)


def preprocessing(
    settings: ModelFormat, in_chans: int, ckpt: Path, hparams: dict, run_config: DictConfig | None
) -> dict:
    """What the processor must do to a recorder image before either model sees it."""
    with_mask = in_chans > PAIR_CHANNELS
    size = model_panel_size(settings, run_config)
    stored = int(settings.stored_panel_size)
    spatial = ["height", "width"] if settings.dynamic_panel_size else [size, size]
    channels = [f"{panel} {c}" for panel in PANEL_ORDER for c in RGB] + (["diff_mask"] if with_mask else [])
    return {
        "input": {"name": INPUT_NAME, "shape": ["batch", in_chans, *spatial], "dtype": "float32", "layout": "NCHW"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch"], "meaning": "obstacle score in [0, 1] (sigmoid)"},
        "panel_size": [size, size],
        "resize": None
        if size == stored
        else {
            "from": [stored] * 2,
            "to": [size, size],
            "interpolation": "area",
            "order": "each panel resized before the diff mask is computed",
        },
        "panel_order": list(PANEL_ORDER),
        "source_image": "panels side by side, equal width: [reference | current] or the recorder's "
        "[reference | current | mask]; the recorder's mask panel is not an input",
        "channel_order": "RGB",
        "channels": channels,
        "scaling": {"divide_by": UINT8_MAX, "range": [0.0, 1.0], "mean": None, "std": None},
        "in_chans": in_chans,
        "diff_mask": diff_mask_spec(settings.pixel_threshold, with_mask, run_config),
        "refused": input_contract(settings, in_chans, size).rules(),
        "refusal": {
            "torchscript": "raises (torch.jit.Error naming the broken rule)",
            "onnx": f"the run fails in the graph's Reshape node {ONNX_REFUSAL_NODE!r} (ONNX cannot raise)",
            "loader": f"{CHECK_SCRIPT_NAME}: check_input(x, spec) names every broken rule before a model runs",
        },
        "checkpoint": {"path": str(ckpt), "sha256": file_sha256(ckpt), "hparams": hparams},
        "files": {
            "torchscript": TORCHSCRIPT_NAME,
            "onnx": ONNX_NAME,
            "onnx_opset": int(settings.opset),
            "check": CHECK_SCRIPT_NAME,
        },
    }


def thresholds_source(thresholds_path: Path | None, run: Path | None) -> Path | None:
    """An explicit thresholds file must exist; the run's own is optional."""
    if thresholds_path:
        path = Path(thresholds_path)
        if not path.is_file():
            raise FileNotFoundError(f"thresholds_path {path}: no such file")
        return path
    candidate = run / RUN_THRESHOLDS if run is not None else None
    return candidate if candidate is not None and candidate.is_file() else None


def deployment_thresholds(source: Path) -> dict:
    """The search's thresholds.json plus ``deployment``: the pair to apply, the rule, what it guarantees."""
    report = json.loads(source.read_text())
    lower, upper = wording.deployed_pair(report)
    rounded = report.get("rounded") or {}
    report["deployment"] = {
        "lower": lower,
        "upper": upper,
        "rule": wording.RULE,
        "certified": wording.is_certified(report),
        "confidence": rounded.get("confidence"),
        "max_missed": report.get("max_missed"),
        "max_false_alarm": report.get("max_false_alarm"),
        "guarantee": wording.guarantee(report),
        "source": str(source),
    }
    return report


def _compared_checkpoint(report: Path) -> str | None:
    path = report.parent / CHAMPION_PROVENANCE_FILE
    if not path.is_file():
        return None
    return (json.loads(path.read_text()).get("challenger_from") or {}).get("checkpoint_sha256")


def champion_source(
    explicit: Path | None, run: Path | None, reports_dir: Path | None, run_config: DictConfig | None, ckpt_sha256: str
) -> Path | None:
    """The champion report that speaks about this checkpoint (module docstring), or None."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"champion_report {path}: no such file")
        compared = _compared_checkpoint(path)
        if compared is not None and compared != ckpt_sha256:
            raise ValueError(f"champion_report {path} compares another checkpoint (sha256 {compared[:12]}...)")
        return path
    dataset = OmegaConf.select(run_config, "dataset.name") if run_config is not None else None
    candidates = [run / RUN_CHAMPION] if run is not None else []
    if reports_dir is not None and dataset:
        candidates.append(Path(reports_dir) / str(dataset) / STAGE_CHAMPION)
    for candidate in candidates:
        if candidate.is_file() and _compared_checkpoint(candidate) == ckpt_sha256:
            return candidate
    return None


def champion_record(source: Path | None) -> dict:
    """What the bundle's champion.json says: the verdict, its figures and where they come from."""
    if source is None:
        return {
            "compared": False,
            "verdict_in_words": "not compared with a champion",
            "how": "python -m obstacles.commands.champion challenger=<run folder> (after evaluate)",
        }
    report = json.loads(source.read_text())
    provenance = source.parent / CHAMPION_PROVENANCE_FILE
    words = json.loads(provenance.read_text()) if provenance.is_file() else {}
    return {
        "compared": True,
        "verdict": report.get("verdict"),
        "testable": report.get("testable"),
        "verdict_in_words": words.get("verdict_in_words", "see the report"),
        "figures": champion_wording.figures(report),
        "champion": words.get("champion_from"),
        "source": str(source),
        "report": report,
    }


def check_not_worse(record: dict, ckpt: Path, allow_worse: bool) -> None:
    """Refuse a checkpoint significantly worse than its champion, naming the figures, unless allowed."""
    worse = record.get("testable") and record.get("verdict") == champion_wording.WORSE_CODE
    if worse and not allow_worse:
        raise ChallengerWorse(
            f"refusing to export {ckpt}: significantly worse than its champion ({record['figures']}; "
            f"{record['source']}); allow_worse=true exports it anyway"
        )
    record["allowed_worse"] = bool(worse)


def default_export_dir(run_dir: Path, experiments_dir: Path, exports_dir: Path) -> Path:
    """Where a run's bundle goes unless told: `exports_dir` / the run's folder as it sits under
    `experiments_dir` (a sweep's job keeps its sweep's name), never inside the run folder, which
    DVC owns for the runs it trains."""
    try:
        relative = Path(run_dir).resolve().relative_to(Path(experiments_dir).resolve())
    except ValueError:
        relative = Path(Path(run_dir).name)
    return Path(exports_dir) / relative


def export_bundle(
    run: Run,
    settings: ModelFormat,
    out_dir: Path,
    thresholds_path: Path | None = None,
    *,
    champion_report: Path | None = None,
    reports_dir: Path | None = None,
    allow_worse: bool = False,
) -> Bundle:
    """Write the bundle of the run's checkpoint (`obstacles.runs.lookup.find_run`) into ``out_dir``
    (`default_export_dir`), complete or not at all; ``thresholds_path`` (default: the run's
    eval/thresholds.json, if any) must exist if given. ``champion_report``: the comparison that
    gates the export (default: `champion_source`'s lookup); a significantly worse checkpoint raises
    ChallengerWorse before anything is written, unless ``allow_worse``."""
    ckpt = run.checkpoint
    classifier = load_classifier(ckpt)
    champion = champion_record(
        champion_source(champion_report, run.run_dir, reports_dir, run.config, file_sha256(ckpt))
    )
    check_not_worse(champion, ckpt, allow_worse)
    out_dir = Path(out_dir)
    in_chans = int(classifier.hparams.in_chans)
    model = ScoreModel(classifier.backbone).eval()
    size = model_panel_size(settings, run.config)
    example = torch.rand(1, in_chans, size, size)
    thresholds = thresholds_source(thresholds_path, run.run_dir)
    hparams = {k: v for k, v in dict(classifier.hparams).items() if isinstance(v, (str, int, float, bool, type(None)))}
    contract = input_contract(settings, in_chans, size)
    with atomic_dir(out_dir) as out:
        export_torchscript(model, example, out / TORCHSCRIPT_NAME, contract)
        export_onnx(model, example, out / ONNX_NAME, int(settings.opset), bool(settings.dynamic_panel_size), contract)
        shutil.copyfile(check_bundle.__file__, out / CHECK_SCRIPT_NAME)
        spec = preprocessing(settings, in_chans, ckpt, hparams, run.config)
        write_text_atomic(out / "preprocessing.json", json.dumps(spec, indent=2) + "\n")
        deployment = None
        if thresholds is not None:
            bundled = deployment_thresholds(thresholds)
            deployment = bundled["deployment"]
            write_text_atomic(out / THRESHOLDS_FILE, json.dumps(bundled, indent=2) + "\n")
            if (thresholds.parent / THRESHOLDS_PROVENANCE_FILE).is_file():
                shutil.copyfile(thresholds.parent / THRESHOLDS_PROVENANCE_FILE, out / THRESHOLDS_PROVENANCE_FILE)
        if run.config is not None:
            write_text_atomic(out / RUN_CONFIG_NAME, OmegaConf.to_yaml(run.config))
        write_text_atomic(out / CHAMPION_FILE, json.dumps(champion, indent=2, allow_nan=False) + "\n")
    return Bundle(ckpt, out_dir, int(settings.opset), thresholds, deployment, champion)
