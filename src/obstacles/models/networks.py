"""How the reference and current frames meet inside the network (`model.fusion`), a registry.

Every network takes the data's tensor, reference RGB + current RGB (+ the diff mask), and gives one
obstacle logit. It exposes timm's feature API (`forward_features`, `forward_head(pre_logits=True)`)
so that embeddings, export and the Lightning module treat every fusion alike.

* `early`: the channels stacked into one backbone (the field's way).
* `siamese`: one backbone with shared weights encodes reference and current alike; their features
  are compared by difference at one or more stages, pooled, and a head decides. An obstacle is a
  local change, so each stage's difference is max-pooled as well as averaged.

`difference` gives either network three more channels that compare the frames (DIFFERENCES):
`signed`, current - reference; `log_ratio`, log(current + eps) - log(reference + eps), in which a
change of lighting or a soft shadow (a gain, smooth over the panel) is a smooth field and an
obstacle an edged patch. The data stays 6 or 7 channels (so evaluation, export and curation read
every checkpoint the same way): the network computes the difference itself, inside the exported graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import timm
import torch
from torch import nn

from obstacles.models.backbone import check_backbone_name, create_backbone, load_network_weights

PANEL_CHANNELS = 3  # RGB per frame
REFERENCE, CURRENT = slice(0, PANEL_CHANNELS), slice(PANEL_CHANNELS, 2 * PANEL_CHANNELS)
EXTRA = slice(2 * PANEL_CHANNELS, None)  # the diff mask, when the data gives it


LOG_EPS = 4 / 255  # keeps the log ratio of near-black pixels (sensor noise) bounded


def signed_difference(images: torch.Tensor) -> torch.Tensor:
    """current - reference, 3 channels in [-1, 1]."""
    return images[:, CURRENT] - images[:, REFERENCE]


def log_ratio(images: torch.Tensor) -> torch.Tensor:
    """log(current + eps) - log(reference + eps), 3 channels."""
    return torch.log(images[:, CURRENT] + LOG_EPS) - torch.log(images[:, REFERENCE] + LOG_EPS)


DIFFERENCES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"signed": signed_difference, "log_ratio": log_ratio}


def difference_function(name: str | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if name is None:
        return None
    if name not in DIFFERENCES:
        raise ValueError(f"model.difference={name!r}: must be null or one of {sorted(DIFFERENCES)}")
    return DIFFERENCES[name]


def difference_channels(name: str | None) -> int:
    return 0 if difference_function(name) is None else PANEL_CHANNELS


class EarlyFusion(nn.Module):
    """One backbone over the stacked channels (plus the frames' difference when asked)."""

    def __init__(self, network: nn.Module, *, difference: str | None):
        super().__init__()
        self.network = network
        self.difference = difference_function(difference)
        self.num_features = network.num_features

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        return images if self.difference is None else torch.cat([images, self.difference(images)], 1)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.network.forward_features(self.inputs(images))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.network.forward_head(features, pre_logits=pre_logits)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(images))


class SiameseNetwork(nn.Module):
    """A shared encoder over each frame (with the data's extra channels beside it); per chosen stage
    the feature difference current - reference is pooled (max and mean), then an MLP head."""

    def __init__(self, encoder: nn.Module, *, difference: str | None, head_width: int, drop_rate: float):
        super().__init__()
        self.encoder = encoder
        self.difference = difference_function(difference)
        pooled = 2 * sum(encoder.feature_info.channels())
        self.num_features = head_width
        self.pre_logits = nn.Sequential(nn.Linear(pooled, head_width), nn.ReLU(inplace=True))
        self.head_drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(head_width, 1)

    def branch_inputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        extra = [images[:, EXTRA]]
        if self.difference is not None:
            extra.append(self.difference(images))
        reference = torch.cat([images[:, REFERENCE], *extra], 1)
        current = torch.cat([images[:, CURRENT], *extra], 1)
        return reference, current

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled stage differences, (batch, 2 * sum of the stages' channels)."""
        reference, current = self.branch_inputs(images)
        both = self.encoder(torch.cat([reference, current], 0))  # one pass: batch norm sees both frames
        pooled = []
        for stage in both:
            ref_features, cur_features = stage.chunk(2, 0)
            difference = cur_features - ref_features
            pooled += [difference.amax((2, 3)), difference.abs().mean((2, 3))]
        return torch.cat(pooled, 1)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        hidden = self.pre_logits(features)
        return hidden if pre_logits else self.fc(self.head_drop(hidden))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(images))


def branch_channels(in_chans: int, difference: str | None) -> int:
    """Channels one Siamese branch reads: its frame, the data's extras, the frames' difference."""
    return PANEL_CHANNELS + (in_chans - 2 * PANEL_CHANNELS) + difference_channels(difference)


def early_fusion(
    backbone: str,
    *,
    in_chans: int,
    difference: str | None = None,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
    drop_rate: float | None = None,
    global_pool: str | None = None,
) -> nn.Module:
    """`global_pool` (timm's names: avg, max, ...; null keeps the backbone's own) pools the last
    stage; a weights file holds the backbone's weights (a timm state_dict or one of our checkpoints)."""
    network = create_backbone(
        backbone,
        in_chans=in_chans + difference_channels(difference),
        pretrained=pretrained,
        weights_path=weights_path,
        drop_rate=drop_rate,
        global_pool=global_pool,
    )
    return EarlyFusion(network, difference=difference)


def siamese(
    backbone: str,
    *,
    in_chans: int,
    difference: str | None = None,
    pretrained: bool = False,
    weights_path: str | Path | None = None,
    drop_rate: float | None = None,
    stages: Sequence[int] = (1, 2, 3),
    head_width: int = 128,
) -> nn.Module:
    """`stages`: the encoder stages (timm `out_indices`) whose differences the head reads."""
    check_backbone_name(backbone)
    encoder = timm.create_model(
        backbone,
        pretrained=pretrained,
        features_only=True,
        out_indices=tuple(stages),
        in_chans=branch_channels(in_chans, difference),
    )
    network = SiameseNetwork(encoder, difference=difference, head_width=head_width, drop_rate=drop_rate or 0.0)
    if weights_path:
        load_network_weights(network, weights_path)
    return network


NETWORKS: dict[str, Callable[..., nn.Module]] = {"early": early_fusion, "siamese": siamese}


def create_network(fusion: str, backbone: str, *, fusion_options: Mapping[str, object] | None = None, **common):
    """The network for `model.fusion` (a key of NETWORKS); `fusion_options` are that network's own
    settings (an option another network has is an error, not silently dropped)."""
    if fusion not in NETWORKS:
        raise ValueError(f"model.fusion={fusion!r}: must be one of {sorted(NETWORKS)}")
    try:
        return NETWORKS[fusion](backbone, **common, **dict(fusion_options or {}))
    except TypeError as error:
        raise ValueError(f"model.fusion_options {dict(fusion_options or {})} do not fit fusion {fusion!r}: {error}")
