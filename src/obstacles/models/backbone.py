"""Backbones by name from timm's registry (which also holds `field_cnn`), with local weights.

Nothing is downloaded: `pretrained` stays false on machines without internet, and a local
weights file (a state_dict, or one of our Lightning checkpoints) is loaded instead.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import timm
import torch
from torch import nn

import obstacles.models.field_cnn  # noqa: F401  (registers field_cnn with timm)

# How ObstacleClassifier's state_dict names the weights of its network, and an early-fusion network
# those of its backbone: a checkpoint of ours loads as a plain backbone state_dict.
CHECKPOINT_PREFIXES = ("backbone.", "network.")
SHOWN = 5  # names quoted in error messages


def check_backbone_name(name: str) -> None:
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=SHOWN)
        raise ValueError(f"unknown backbone {name!r}: not in timm's model registry (closest: {close})")


def create_backbone(
    name: str,
    *,
    in_chans: int,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
    drop_rate: float | None = None,
    global_pool: str | None = None,
) -> nn.Module:
    """A one-logit classifier network; `drop_rate` is the dropout before its head, `global_pool`
    its last pooling (null: the backbone's default)."""
    check_backbone_name(name)
    pooling = {} if global_pool is None else {"global_pool": global_pool}
    model = timm.create_model(
        name, pretrained=pretrained, in_chans=in_chans, num_classes=1, drop_rate=drop_rate, **pooling
    )
    if weights_path:
        load_network_weights(model, weights_path)
    return model


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file; a Lightning checkpoint's backbone weights lose their prefix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model.weights_path: no file at {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    for prefix in CHECKPOINT_PREFIXES:
        if any(key.startswith(prefix) for key in state):
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    return state


def load_network_weights(model: nn.Module, path: str | Path) -> None:
    """Load a network-weights file strictly (not sample weights: those are `obstacles.weights`); a
    mismatch names the missing, unexpected and reshaped keys."""
    state = read_state_dict(path)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or reshaped:
        raise ValueError(
            f"weights file {path} does not fit {type(model).__name__}: "
            f"{len(missing)} missing {missing[:SHOWN]}, {len(unexpected)} unexpected {unexpected[:SHOWN]}, "
            f"{len(reshaped)} with other shapes (file vs model) {reshaped[:SHOWN]}"
        )
    model.load_state_dict(state)
