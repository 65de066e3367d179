"""The field's own small CNN, registered in timm's registry as `field_cnn`.

Five conv blocks (16/32/64/128/256 filters; 3x3 conv, batch norm, LeakyReLU 0.2, 2x2 max
pooling), then global average pooling, dropout and one output. Global pooling (instead of
flattening a fixed 200x200 grid) keeps it usable at any panel size and gives a pooled
feature vector for similarity search. It exposes the timm feature API (`forward_features`,
`forward_head(pre_logits=True)`, `num_features`) so the Lightning module treats it like
any timm backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.models import register_model
from torch import nn

FIELD_FILTERS = (16, 32, 64, 128, 256)
LEAKY_SLOPE = 0.2


def conv_block(in_chans: int, out_chans: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_chans, out_chans, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_chans),
        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
        nn.MaxPool2d(2),
    )


class FieldCNN(nn.Module):
    def __init__(
        self, in_chans: int = 6, num_classes: int = 1, drop_rate: float = 0.5, filters: Sequence[int] = FIELD_FILTERS
    ):
        super().__init__()
        widths = (in_chans, *filters)
        self.features = nn.Sequential(*(conv_block(a, b) for a, b in zip(widths[:-1], widths[1:])))
        self.num_features = filters[-1]
        self.num_classes = num_classes
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pool(x).flatten(1)
        return x if pre_logits else self.fc(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def field_cnn(pretrained: bool = False, **kwargs) -> FieldCNN:
    """timm entrypoint; there are no published weights (load a local file instead)."""
    if pretrained:
        raise ValueError("field_cnn has no pretrained weights; set model.weights_path to a local file")
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(key, None)
    return FieldCNN(**kwargs)
