"""The input contract both exported models enforce themselves: what preprocessing.json rules out is refused.

The processor feeds the models a tensor it built by re-implementing our preprocessing. Its likely
mistakes give inputs that a network scores without complaint: pixels not divided by 255 (a score
of 0.0 that looks plausible), a NaN from a broken decode (a NaN score, which neither threshold
catches), a panel size the network was not trained at (TorchScript's convolutions take any size),
a diff mask in 0..255 or interpolated. So each model refuses, at run time and for every batch:

- a shape other than ``[batch, in_chans, panel, panel]`` (the panel size fixed unless the export
  makes H and W dynamic, for both runtimes alike), and a dtype other than float32;
- any value outside [0, 1], NaN and infinities included (a comparison with NaN is false, so the
  one range test covers them);
- with the diff-mask channel, any value of it other than 0 or 1.

How each runtime refuses, and why this way:

- TorchScript: the traced network is wrapped in `GuardedScoreModel`, compiled with
  ``torch.jit.script``, so its checks are real control flow that raises (``torch.jit.Error``,
  the message naming the rule), which tracing would have dropped.
- ONNX has no operator that raises. `add_onnx_guard` inserts the same checks into the graph and
  feeds their verdict into a Reshape of the score that cannot succeed when an input breaks the
  contract (``batch`` scores asked to become ``2 * batch``). A Reshape to a shape of another size
  is an error in the ONNX spec itself, so every conforming runtime fails the call rather than
  returns a score, whoever wrote the caller; onnxruntime's message names the node, and the node is
  named after the rule (`ONNX_REFUSAL_NODE`). Returning NaN instead would not be a refusal: NaN
  fails both threshold tests and reads as "not decided".
- The bundle also ships check_bundle.py (`obstacles.deployment.check_bundle`), whose
  ``check_input`` names every broken rule before either model runs (the clearest message a loader
  can give) and whose ``main`` shows both models refusing each ruled-out input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

VALUE_RANGE = (0.0, 1.0)  # preprocessing.json's scaling range: uint8 / 255
MASK_VALUES = (0.0, 1.0)  # the diff-mask channel: changed or not, never scaled
INPUT_DIMS = 4  # batch, channels, height, width
NO_MASK = -1  # GuardedScoreModel.mask_channel without a diff-mask channel (TorchScript has no Optional int attribute)
ANY_SIZE = 0  # GuardedScoreModel.panel_size when H and W are dynamic
ONNX_REFUSAL_NODE = "refuse_input_outside_the_contract_values_outside_0_1_or_not_finite_or_mask_not_0_1"
ONNX_REFUSAL_FACTOR = 2  # a refused batch's scores are asked to fill twice as many places, which no runtime can


@dataclass(frozen=True)
class InputContract:
    """What preprocessing.json says the models take: the checks derive from it alone."""

    in_chans: int
    panel_size: int | None  # None: H and W dynamic
    mask_channel: int | None  # index of the diff-mask channel, None without one

    def rules(self) -> list[str]:
        """The refused inputs in words (preprocessing.json's ``refused``)."""
        size = "any H = W" if self.panel_size is None else f"H = W = {self.panel_size}"
        rules = [
            f"a shape other than [batch, {self.in_chans}, H, W] with {size}, or a dtype other than float32",
            f"any value outside [{VALUE_RANGE[0]:g}, {VALUE_RANGE[1]:g}], NaN and infinities included "
            "(unscaled 0-255 pixels included)",
        ]
        if self.mask_channel is not None:
            rules.append(f"a diff_mask (channel {self.mask_channel + 1}) value other than 0 or 1")
        return rules


class GuardedScoreModel(torch.nn.Module):
    """The exported network behind the contract's checks; compile with ``torch.jit.script``."""

    def __init__(self, model: torch.nn.Module, contract: InputContract):
        super().__init__()
        self.model = model
        self.in_chans = int(contract.in_chans)
        self.panel_size = ANY_SIZE if contract.panel_size is None else int(contract.panel_size)
        self.mask_channel = NO_MASK if contract.mask_channel is None else int(contract.mask_channel)
        self.low, self.high = VALUE_RANGE
        self.mask_off, self.mask_on = MASK_VALUES
        # module attributes, not globals: torch.jit.script compiles no closed-over value
        self.dims, self.any_size, self.no_mask = INPUT_DIMS, ANY_SIZE, NO_MASK

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != self.dims or image.shape[1] != self.in_chans:
            raise ValueError(f"input contract: image must be [batch, {self.in_chans}, H, W], got {list(image.shape)}")
        if self.panel_size != self.any_size and (
            image.shape[2] != self.panel_size or image.shape[3] != self.panel_size
        ):
            raise ValueError(
                f"input contract: panels must be {self.panel_size}x{self.panel_size}, "
                f"got {image.shape[2]}x{image.shape[3]} (preprocessing.json: panel_size, resize)"
            )
        if image.dtype != torch.float32:
            raise ValueError("input contract: image must be float32 (preprocessing.json: input dtype)")
        if not bool(((image >= self.low) & (image <= self.high)).all()):
            raise ValueError(
                "input contract: values outside [0, 1] or not finite (NaN, inf); pixels are uint8 / 255 "
                "(preprocessing.json: scaling)"
            )
        if self.mask_channel != self.no_mask:
            mask = image[:, self.mask_channel]
            if not bool(((mask == self.mask_off) | (mask == self.mask_on)).all()):
                raise ValueError(
                    "input contract: the diff_mask channel must be 0 or 1, not scaled (preprocessing.json: diff_mask)"
                )
        return self.model(image)


def _constant(name: str, value: float | int | list[int], dtype: int) -> onnx.NodeProto:
    array = np.asarray(value, dtype=helper.tensor_dtype_to_np_dtype(dtype))
    return helper.make_node(
        "Constant", [], [name], name=name, value=helper.make_tensor(name, dtype, array.shape, array.ravel())
    )


def add_onnx_guard(model: onnx.ModelProto, contract: InputContract, input_name: str, output_name: str) -> None:
    """Insert the value checks into the graph (module docstring): the output becomes
    Reshape(score, [batch * (1 + (FACTOR - 1) * refused)]), which fails for a refused batch.
    Shape and dtype are the graph's own declared input (fixed H and W unless exported dynamic)."""
    graph = model.graph
    raw = f"{output_name}__unguarded"
    for node in graph.node:
        node.output[:] = [raw if name == output_name else name for name in node.output]
    g = "input_contract/"
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    low, high = VALUE_RANGE
    nodes = [
        _constant(g + "low", low, f32),
        _constant(g + "high", high, f32),
        helper.make_node("GreaterOrEqual", [input_name, g + "low"], [g + "above_low"], name=g + "above_low"),
        helper.make_node("LessOrEqual", [input_name, g + "high"], [g + "below_high"], name=g + "below_high"),
        helper.make_node("And", [g + "above_low", g + "below_high"], [g + "inside"], name=g + "inside"),
        helper.make_node("Cast", [g + "inside"], [g + "inside_i"], name=g + "inside_i", to=i64),
        helper.make_node("ReduceMin", [g + "inside_i"], [g + "ok_values"], name=g + "ok_values", keepdims=0),
    ]
    ok = g + "ok_values"
    if contract.mask_channel is not None:
        off, on = MASK_VALUES
        nodes += [
            _constant(g + "mask_index", contract.mask_channel, i64),
            helper.make_node("Gather", [input_name, g + "mask_index"], [g + "mask"], name=g + "mask", axis=1),
            _constant(g + "mask_off", off, f32),
            _constant(g + "mask_on", on, f32),
            helper.make_node("Equal", [g + "mask", g + "mask_off"], [g + "is_off"], name=g + "is_off"),
            helper.make_node("Equal", [g + "mask", g + "mask_on"], [g + "is_on"], name=g + "is_on"),
            helper.make_node("Or", [g + "is_off", g + "is_on"], [g + "binary"], name=g + "binary"),
            helper.make_node("Cast", [g + "binary"], [g + "binary_i"], name=g + "binary_i", to=i64),
            helper.make_node("ReduceMin", [g + "binary_i"], [g + "ok_mask"], name=g + "ok_mask", keepdims=0),
            helper.make_node("Mul", [ok, g + "ok_mask"], [g + "ok"], name=g + "ok"),
        ]
        ok = g + "ok"
    nodes += [
        _constant(g + "one", 1, i64),
        _constant(g + "extra", ONNX_REFUSAL_FACTOR - 1, i64),
        helper.make_node("Sub", [g + "one", ok], [g + "refused"], name=g + "refused"),
        helper.make_node("Mul", [g + "refused", g + "extra"], [g + "extra_if_refused"], name=g + "extra_if_refused"),
        helper.make_node("Add", [g + "one", g + "extra_if_refused"], [g + "factor"], name=g + "factor"),
        helper.make_node("Shape", [raw], [g + "batch"], name=g + "batch"),
        helper.make_node("Mul", [g + "batch", g + "factor"], [g + "target"], name=g + "target"),
        helper.make_node("Reshape", [raw, g + "target"], [output_name], name=ONNX_REFUSAL_NODE),
    ]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
