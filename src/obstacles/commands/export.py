"""Deployment bundle of a trained classifier: `python -m obstacles.commands.export ckpt_path=...` (conf/export.yaml).

The video processor runs neither Lightning nor our data code, so the bundle states everything a
re-implementation of the input pipeline needs (preprocessing.json) and holds the model in two
runtimes' formats, both returning the obstacle score (sigmoid of the logit), not the logit:

- model.ts: TorchScript (torch.jit.load), model.onnx: ONNX (onnxruntime and others);
- preprocessing.json: panel size and order, channel order, scaling, input shape, in_chans, the
  diff-mask channel and its pixel threshold;
- thresholds.json: the run's deployment thresholds (from evaluation), when present, with a
  ``deployment`` section saying in words which pair to apply, by what rule, and what it guarantees:
  certified at its confidence (`obstacles.thresholds`' default) or only empirical; and what
  produced them (thresholds.provenance.json, the search's sibling file), when that is present;
- run_config.yaml: the training run's config, when present.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from obstacles.checkpoints import find_checkpoint, load_classifier
from obstacles.config import entry_point
from obstacles.data.dataset import PAIR_CHANNELS
from obstacles.io.outputs import atomic_dir, write_text_atomic
from obstacles.io.provenance import file_sha256
from obstacles.thresholds import wording
from obstacles.training.run_dir import checkpoint_run_dir

TORCHSCRIPT_NAME = "model.ts"
ONNX_NAME = "model.onnx"
INPUT_NAME, OUTPUT_NAME = "image", "score"
RUN_THRESHOLDS = Path("eval") / "thresholds.json"
THRESHOLDS_PROVENANCE = "thresholds.provenance.json"  # beside thresholds.json (obstacles.thresholds writes both)
UINT8_MAX = 255.0
PANEL_ORDER = ("reference", "current")
RGB = ("R", "G", "B")


class ScoreModel(torch.nn.Module):
    """The classifier's network with its sigmoid: deployed code gets scores, as `predict_step` does.

    Holds the backbone only: tracing the LightningModule itself would touch its Trainer.
    """

    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.backbone(image).squeeze(1))


def export_torchscript(model: ScoreModel, example: torch.Tensor, path: Path) -> None:
    """Traced (the networks have no data-dependent control flow); torch marks tracing deprecated
    in favour of torch.export, but TorchScript is what the processor loads today."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example)
        torch.jit.save(traced, str(path))


def export_onnx(model: ScoreModel, example: torch.Tensor, path: Path, opset: int, dynamic_panel_size: bool) -> None:
    """The TorchScript-based exporter (dynamo=False): no onnxscript dependency, a fixed opset."""
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_panel_size else {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: {0: "batch"}},
        )


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


def diff_mask_spec(cfg: DictConfig, with_mask: bool, run_config: DictConfig | None) -> dict:
    spec = {
        "used": with_mask,
        "rule": "channel 7 = 1 where max over R, G, B of |current - reference| (uint8) > pixel_threshold, "
        "else 0; not divided by 255",
    }
    if with_mask:
        spec["pixel_threshold"] = None if cfg.pixel_threshold is None else float(cfg.pixel_threshold)
        spec["pixel_threshold_per_site"] = site_pixel_thresholds(run_config)
    return spec


def model_panel_size(cfg: DictConfig, run_config: DictConfig | None) -> int:
    """The panel size the model was trained at: explicit, else the run's data.panel_size, else as stored."""
    trained = OmegaConf.select(run_config, "data.panel_size") if run_config is not None else None
    return int(cfg.panel_size or trained or cfg.stored_panel_size)


def preprocessing(cfg: DictConfig, in_chans: int, ckpt: Path, hparams: dict, run_config: DictConfig | None) -> dict:
    """What the processor must do to a recorder image before either model sees it."""
    with_mask = in_chans > PAIR_CHANNELS
    size = model_panel_size(cfg, run_config)
    spatial = ["height", "width"] if cfg.dynamic_panel_size else [size, size]
    channels = [f"{panel} {c}" for panel in PANEL_ORDER for c in RGB] + (["diff_mask"] if with_mask else [])
    return {
        "input": {"name": INPUT_NAME, "shape": ["batch", in_chans, *spatial], "dtype": "float32", "layout": "NCHW"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch"], "meaning": "obstacle score in [0, 1] (sigmoid)"},
        "panel_size": [size, size],
        "resize": None
        if size == int(cfg.stored_panel_size)
        else {
            "from": [int(cfg.stored_panel_size)] * 2,
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
        "diff_mask": diff_mask_spec(cfg, with_mask, run_config),
        "checkpoint": {"path": str(ckpt), "sha256": file_sha256(ckpt), "hparams": hparams},
        "files": {"torchscript": TORCHSCRIPT_NAME, "onnx": ONNX_NAME, "onnx_opset": int(cfg.opset)},
    }


def thresholds_source(cfg: DictConfig, run: Path | None) -> Path | None:
    """An explicit thresholds file must exist; the run's own is optional."""
    if cfg.thresholds_path:
        path = Path(cfg.thresholds_path)
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


def run(cfg: DictConfig) -> Path:
    ckpt = find_checkpoint(cfg.paths.experiments_dir, cfg.ckpt_path)
    classifier, run_config = load_classifier(ckpt)
    run_folder = checkpoint_run_dir(ckpt)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else (run_folder or ckpt.parent) / "export"
    in_chans = int(classifier.hparams.in_chans)
    model = ScoreModel(classifier.backbone).eval()
    size = model_panel_size(cfg, run_config)
    example = torch.rand(1, in_chans, size, size)
    thresholds = thresholds_source(cfg, run_folder)
    hparams = {k: v for k, v in dict(classifier.hparams).items() if isinstance(v, (str, int, float, bool, type(None)))}
    with atomic_dir(out_dir) as out:
        export_torchscript(model, example, out / TORCHSCRIPT_NAME)
        export_onnx(model, example, out / ONNX_NAME, int(cfg.opset), bool(cfg.dynamic_panel_size))
        spec = preprocessing(cfg, in_chans, ckpt, hparams, run_config)
        write_text_atomic(out / "preprocessing.json", json.dumps(spec, indent=2) + "\n")
        deployment = None
        if thresholds is not None:
            bundled = deployment_thresholds(thresholds)
            deployment = bundled["deployment"]
            write_text_atomic(out / "thresholds.json", json.dumps(bundled, indent=2) + "\n")
            if (thresholds.parent / THRESHOLDS_PROVENANCE).is_file():
                shutil.copyfile(thresholds.parent / THRESHOLDS_PROVENANCE, out / THRESHOLDS_PROVENANCE)
        if run_config is not None:
            write_text_atomic(out / "run_config.yaml", OmegaConf.to_yaml(run_config))
    if deployment is None:
        carried = "no thresholds.json (evaluate the run first)"
    else:
        kind = f"certified at {deployment['confidence']:g}" if deployment["certified"] else "NOT certified"
        pair = f"lower {deployment['lower']:g}, upper {deployment['upper']:g}"
        carried = f"thresholds.json from {thresholds} ({kind}: {pair})"
    print(f"[export] {ckpt} -> {out_dir}: {TORCHSCRIPT_NAME}, {ONNX_NAME} (opset {cfg.opset}), {carried}")
    return out_dir


main = entry_point("export", run)

if __name__ == "__main__":
    main()
