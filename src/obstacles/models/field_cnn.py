"""The field's own small CNN, registered in timm's registry as `field_cnn`.

Five conv blocks (16/32/64/128/256 filters; 3x3 conv, batch norm, LeakyReLU 0.2, 2x2 max
pooling), then global pooling (average by default; `global_pool="max"` keeps the strongest local
response, which suits a small obstacle on a large panel), dropout and one output. Global pooling
(instead of flattening a fixed 200x200 grid) keeps it usable at any panel size and gives a pooled
feature vector for similarity search. It exposes the timm feature API (`forward_features`,
`forward_head(pre_logits=True)`, `num_features`, and `features_only=True` with `out_indices` for a
Siamese encoder) so the Lightning module treats it like any timm backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.models import FeatureInfo, register_model
from torch import nn

FIELD_FILTERS = (16, 32, 64, 128, 256)
LEAKY_SLOPE = 0.2
POOLS = {"avg": nn.AdaptiveAvgPool2d, "max": nn.AdaptiveMaxPool2d}


def conv_block(in_chans: int, out_chans: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chans, out_chans, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_chans),
        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
        nn.MaxPool2d(2),
    )


def feature_info(filters: Sequence[int]) -> list[dict]:
    """timm's description of each block's output (every block halves the resolution)."""
    return [
        {"num_chs": width, "reduction": 2 ** (index + 1), "module": f"features.{index}"}
        for index, width in enumerate(filters)
    ]


class FieldCNN(nn.Module):
    def __init__(
        self,
        in_chans: int = 6,
        num_classes: int = 1,
        drop_rate: float = 0.5,
        filters: Sequence[int] = FIELD_FILTERS,
        global_pool: str = "avg",
    ):
        super().__init__()
        if global_pool not in POOLS:
            raise ValueError(f"field_cnn global_pool={global_pool!r}: must be one of {sorted(POOLS)}")
        widths = (in_chans, *filters)
        self.features = nn.Sequential(*(conv_block(a, b) for a, b in zip(widths[:-1], widths[1:])))
        self.feature_info = feature_info(filters)
        self.num_features = filters[-1]
        self.num_classes = num_classes
        self.pool = POOLS[global_pool](1)
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pool(x).flatten(1)
        return x if pre_logits else self.fc(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class FieldCNNFeatures(nn.Module):
    """The blocks of a FieldCNN up to the last one asked for, returning the outputs of the blocks
    in `out_indices` (timm's `features_only` contract: a list of maps, `feature_info.channels()`)."""

    def __init__(self, network: FieldCNN, out_indices: Sequence[int]):
        super().__init__()
        self.out_indices = tuple(out_indices)
        self.blocks = network.features[: max(self.out_indices) + 1]
        self.feature_info = FeatureInfo(network.feature_info, self.out_indices)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.out_indices:
                outputs.append(x)
        return outputs


@register_model
def field_cnn(
    pretrained: bool = False, features_only: bool = False, out_indices: Sequence[int] = (4,), **kwargs
) -> FieldCNN | FieldCNNFeatures:
    """timm entrypoint; there are no published weights (load a local file instead)."""
    if pretrained:
        raise ValueError("field_cnn has no pretrained weights; set model.weights_path to a local file")
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(key, None)
    network = FieldCNN(**kwargs)
    return FieldCNNFeatures(network, out_indices) if features_only else network
