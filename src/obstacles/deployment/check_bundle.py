"""Check an export bundle: `python check_bundle.py [bundle folder]` (this file is copied into every bundle).

Standalone on purpose: the processor's machine has numpy, onnxruntime and perhaps torch, not this
project. It reads the bundle's preprocessing.json, then

- ``check_input(x, spec)``: every rule of the input contract that ``x`` breaks, in words; a loader
  calls it before either model (``guarded_score`` does) for the clearest message, while the models
  refuse such inputs themselves anyway (obstacles.deployment.contract);
- ``main``: scores one valid input with both models (they must agree), then feeds both models each
  input the contract rules out (NaN, infinity, unscaled 0-255 pixels, negative values, another
  panel size, another channel count, float64, a diff mask other than 0/1) and prints, per input,
  whether check_input, TorchScript and ONNX refuse it. Exit status 0 only if all of them refuse
  every ruled-out input and the scores agree.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

SPEC_NAME = "preprocessing.json"
PARITY_ATOL = 1e-4  # the bundle's models agree with the checkpoint within this (docs/export.md)
SEED = 0
UNSCALED = 255.0  # a uint8 pixel not divided by 255
OTHER_SIZE_FACTOR = 2  # a panel size the fixed-size models were not exported at
MASK_HALF = 0.5  # an interpolated mask value: inside [0, 1] but neither 0 nor 1
MASK_NAME = "diff_mask"
WHY_CHARS = 240  # of a runtime's error message in the report
QUIET = 4  # onnxruntime's log severity "fatal": the refusals checked here are expected, not logged as errors


def input_dims(spec: dict) -> tuple[int, int | None]:
    """(in_chans, panel size or None when H and W are dynamic) from the spec's input shape."""
    _, in_chans, height, _ = spec["input"]["shape"]
    return int(in_chans), height if isinstance(height, int) else None


def mask_channel(spec: dict) -> int | None:
    return spec["channels"].index(MASK_NAME) if spec["diff_mask"]["used"] else None


def check_input(x: np.ndarray, spec: dict) -> list[str]:
    """Every rule of preprocessing.json's input contract that ``x`` breaks (empty: acceptable)."""
    in_chans, size = input_dims(spec)
    low, high = spec["scaling"]["range"]
    broken = []
    if x.ndim != len(spec["input"]["shape"]) or x.shape[1] != in_chans:
        return [f"shape {list(x.shape)}: must be [batch, {in_chans}, H, W]"]
    if size is not None and x.shape[2:] != (size, size):
        broken.append(f"panels {x.shape[2]}x{x.shape[3]}: must be {size}x{size} (resize: {spec['resize']})")
    if x.dtype != np.dtype(spec["input"]["dtype"]):
        broken.append(f"dtype {x.dtype}: must be {spec['input']['dtype']}")
    if not np.isfinite(x).all():
        broken.append("values not finite (NaN or inf)")
    finite = x[np.isfinite(x)]
    if finite.size and (finite.min() < low or finite.max() > high):
        broken.append(
            f"values in [{finite.min():g}, {finite.max():g}]: must be in [{low:g}, {high:g}] "
            f"(pixels divided by {spec['scaling']['divide_by']:g})"
        )
    channel = mask_channel(spec)
    if channel is not None and not np.isin(x[:, channel], (0.0, 1.0)).all():
        broken.append(f"{MASK_NAME} (channel {channel + 1}) values other than 0 and 1")
    return broken


def valid_input(spec: dict, batch: int = 2) -> np.ndarray:
    """A random input the contract accepts."""
    in_chans, size = input_dims(spec)
    size = size or spec["panel_size"][0]
    x = np.random.default_rng(SEED).random((batch, in_chans, size, size), dtype=np.float32)
    channel = mask_channel(spec)
    if channel is not None:
        x[:, channel] = np.round(x[:, channel])
    return x


def ruled_out_inputs(spec: dict) -> dict[str, np.ndarray]:
    """One input per way the contract rules out, each from a valid one."""
    x = valid_input(spec)
    in_chans, size = input_dims(spec)
    cases = {}
    for name, value in (("a NaN pixel", np.nan), ("an infinite pixel", np.inf), ("a negative pixel", -0.5)):
        bad = x.copy()
        bad[0, 0, 0, 0] = value
        cases[name] = bad
    cases["unscaled 0-255 pixels"] = np.round(x * UNSCALED).astype(np.float32)
    if size is not None:
        other = size * OTHER_SIZE_FACTOR
        cases[f"{other}x{other} panels"] = np.resize(x, (*x.shape[:2], other, other)).astype(np.float32)
    cases[f"{in_chans + 1} channels"] = np.concatenate([x, x[:, :1]], axis=1)
    cases["float64"] = x.astype(np.float64)
    channel = mask_channel(spec)
    if channel is not None:
        bad = x.copy()
        bad[:, channel] = MASK_HALF
        cases[f"{MASK_NAME} of 0.5"] = bad
    return cases


class Models:
    """Both runtimes of a bundle folder; a runtime that is not installed is None."""

    def __init__(self, folder: Path, spec: dict):
        files = spec["files"]
        self.input_name, self.output_name = spec["input"]["name"], spec["output"]["name"]
        try:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.log_severity_level = QUIET
            self.onnx = onnxruntime.InferenceSession(
                str(folder / files["onnx"]), options, providers=["CPUExecutionProvider"]
            )
        except ImportError:
            self.onnx = None
        try:
            import torch

            self.torch = torch
            with warnings.catch_warnings():  # torch warns that TorchScript will go; it is what the processor loads
                warnings.simplefilter("ignore", FutureWarning)
                self.torchscript = torch.jit.load(str(folder / files["torchscript"]))
        except ImportError:
            self.torchscript = None

    def runtimes(self) -> dict:
        """name -> scoring function, for the runtimes installed here."""
        found = {"TorchScript": self.torchscript_scores if self.torchscript is not None else None}
        found["ONNX"] = self.onnx_scores if self.onnx is not None else None
        return {name: score for name, score in found.items() if score is not None}

    def torchscript_scores(self, x: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.torchscript(self.torch.from_numpy(x)).numpy()

    def onnx_scores(self, x: np.ndarray) -> np.ndarray:
        (scores,) = self.onnx.run([self.output_name], {self.input_name: x})
        return scores


def guarded_score(models: Models, x: np.ndarray, spec: dict) -> np.ndarray:
    """The loader's way to score: refuse (ValueError naming every broken rule) before the model runs."""
    broken = check_input(x, spec)
    if broken:
        raise ValueError("input refused: " + "; ".join(broken))
    return models.onnx_scores(x)


def refuses(score, x: np.ndarray) -> tuple[bool, str]:
    """(refused, why): a runtime refuses by raising; a returned score is an acceptance."""
    try:
        result = score(x)
    except Exception as error:  # each runtime raises its own type; any refusal counts
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        # TorchScript's message is a traceback ending in the raised error; onnxruntime's, a few lines
        why = lines[-1] if lines and lines[-1].startswith("builtins.") else " ".join(lines)
        return True, why[:WHY_CHARS]
    return False, f"returned {np.asarray(result).ravel()[:2]}"


def check(folder: Path) -> tuple[bool, list[str]]:
    """(all as the contract says, report lines): parity on a valid input, every ruled-out input refused."""
    spec = json.loads((folder / SPEC_NAME).read_text())
    runtimes = Models(folder, spec).runtimes()
    lines, ok = [], True
    x = valid_input(spec)
    scores = {name: np.asarray(fn(x)) for name, fn in runtimes.items()}
    lines.append(
        f"valid input {list(x.shape)}: "
        + ", ".join(f"{k} {v.astype(float).round(4).tolist()}" for k, v in scores.items())
    )
    if len(scores) > 1:
        first, *rest = scores.values()
        agree = all(np.allclose(first, other, atol=PARITY_ATOL) for other in rest)
        ok &= agree
        lines.append(f"  the runtimes agree within {PARITY_ATOL:g}: {agree}")
    for case, bad in ruled_out_inputs(spec).items():
        broken = check_input(bad, spec)
        ok &= bool(broken)
        lines.append(f"{case}: check_input {'refuses: ' + '; '.join(broken) if broken else 'ACCEPTS'}")
        for name, fn in runtimes.items():
            refused, why = refuses(fn, bad)
            ok &= refused
            lines.append(f"  {name} {'refuses' if refused else 'ACCEPTS'}: {why}")
    return ok, lines


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    ok, lines = check(folder)
    print("\n".join(lines))
    print("bundle check: " + ("every ruled-out input refused by every runtime" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
