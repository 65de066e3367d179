"""Backbones by name (timm + field_cnn), how the frames meet (fusion), local weights, outputs and features."""

from __future__ import annotations

import math

import pytest
import timm
import torch

from obstacles.models import FieldCNN, ObstacleClassifier, create_backbone
from obstacles.models.networks import EarlyFusion, SiameseNetwork, log_ratio, signed_difference
from obstacles.runs.loading import build_model


def test_field_cnn_is_in_timm_registry_and_matches_the_field_design():
    assert timm.is_model("field_cnn")
    model = timm.create_model("field_cnn", in_chans=7, num_classes=1)
    assert isinstance(model, FieldCNN)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128, 256] and convs[0].in_channels == 7
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()) == 5
    assert model.head_drop.p == 0.5
    assert model(torch.zeros(2, 7, 32, 32)).shape == (2, 1)


@pytest.mark.parametrize("backbone", ["field_cnn", "resnet18"])
def test_scores_and_penultimate_features(backbone):
    model = ObstacleClassifier(backbone, in_chans=6).eval()
    images = torch.rand(3, 6, 32, 32)
    scores = model.predict_step({"image": images}, 0)
    assert scores.shape == (3,) and bool(((scores >= 0) & (scores <= 1)).all())
    features = model.embed(images)
    assert features.shape == (3, model.backbone.num_features)


def test_unknown_backbone_names_close_matches():
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet181'.*resnet18"):
        ObstacleClassifier("resnet181")


@pytest.mark.parametrize("in_chans", [3, 8])
def test_channels_must_be_pair_or_pair_plus_mask(in_chans):
    with pytest.raises(ValueError, match=f"model.in_chans={in_chans}: must be 6"):
        ObstacleClassifier("field_cnn", in_chans=in_chans)


def test_local_weights_file_loads_and_mismatch_is_explained(tmp_path):
    source = create_backbone("field_cnn", in_chans=6)
    path = tmp_path / "field.pt"
    torch.save(source.state_dict(), path)
    loaded = ObstacleClassifier("field_cnn", in_chans=6, weights_path=path)
    assert torch.equal(loaded.backbone.network.fc.weight, source.fc.weight)
    mismatch = r"does not fit FieldCNN.*features.0.0.weight \(16, 6, 3, 3\) vs \(16, 7, 3, 3\)"
    with pytest.raises(ValueError, match=mismatch):
        ObstacleClassifier("field_cnn", in_chans=7, weights_path=path)
    with pytest.raises(FileNotFoundError, match="no file at"):
        ObstacleClassifier("field_cnn", weights_path=tmp_path / "missing.pt")


def test_signed_difference_channels_are_current_minus_reference():
    images = torch.rand(2, 7, 32, 32)
    difference = signed_difference(images)
    assert torch.equal(difference, images[:, 3:6] - images[:, :3])
    model = ObstacleClassifier("field_cnn", in_chans=7, difference="signed")
    first_conv = model.backbone.network.features[0][0]
    assert first_conv.in_channels == 10  # 7 data channels + 3 differences, computed inside the network
    assert isinstance(model.backbone, EarlyFusion) and model(images).shape == (2,)
    with pytest.raises(ValueError, match="model.difference='abs'"):
        ObstacleClassifier("field_cnn", difference="abs")


def test_log_ratio_turns_a_lighting_gain_into_a_constant():
    reference = torch.rand(1, 3, 32, 32) * 0.5 + 0.2
    lit = torch.cat([reference, reference * 1.5], 1)  # a global gain of 1.5: no obstacle
    ratio = log_ratio(lit)
    assert torch.allclose(ratio, torch.full_like(ratio, math.log(1.5)), atol=0.03)
    assert float(signed_difference(lit).std()) > 0.05  # the signed difference keeps the scene's texture


def test_max_pooled_head_keeps_a_small_local_response():
    model = ObstacleClassifier("field_cnn", in_chans=6, fusion_options={"global_pool": "max"}).eval()
    features = torch.zeros(1, 256, 4, 4)
    features[0, 0, 1, 2] = 8.0  # one strong cell of sixteen
    assert model.backbone.forward_head(features, pre_logits=True)[0, 0] == 8.0
    with pytest.raises(ValueError, match="global_pool='median'"):
        ObstacleClassifier("field_cnn", fusion_options={"global_pool": "median"})


@pytest.mark.parametrize("backbone", ["field_cnn", "resnet18"])
def test_siamese_shares_one_encoder_and_sees_only_the_change(backbone):
    model = ObstacleClassifier(
        backbone, in_chans=7, fusion="siamese", fusion_options={"stages": [1, 2], "head_width": 16}
    ).eval()
    assert isinstance(model.backbone, SiameseNetwork)
    reference = torch.rand(2, 3, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    unchanged = torch.cat([reference, reference, mask], 1)
    # identical frames: every stage difference is zero, so the pooled features are zero
    assert torch.count_nonzero(model.backbone.forward_features(unchanged)) == 0
    changed = unchanged.clone()
    changed[:, 3:6, 8:16, 8:16] = 1.0
    assert torch.count_nonzero(model.backbone.forward_features(changed)) > 0
    assert model.embed(changed).shape == (2, 16) and model(changed).shape == (2,)


def test_fusion_options_are_checked_against_the_fusion():
    with pytest.raises(ValueError, match="model.fusion='late'"):
        ObstacleClassifier("field_cnn", fusion="late")
    with pytest.raises(ValueError, match="do not fit fusion 'early'"):
        ObstacleClassifier("field_cnn", fusion_options={"stages": [1]})


@pytest.mark.parametrize(
    "options",
    [
        {"difference": "signed", "fusion_options": {"global_pool": "max"}},
        {"fusion": "siamese", "difference": "log_ratio", "fusion_options": {"stages": [0, 2], "head_width": 8}},
    ],
)
def test_checkpoint_hyperparameters_rebuild_every_fusion(options):
    """What evaluation, export and the audit do with a checkpoint: rebuild from its hparams."""
    model = ObstacleClassifier("field_cnn", in_chans=7, **options).eval()
    checkpoint = {"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}
    rebuilt = build_model(checkpoint)
    images = torch.rand(2, 7, 32, 32)
    assert torch.allclose(rebuilt(images), model(images))
