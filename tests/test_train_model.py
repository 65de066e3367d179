"""Backbones by name (timm + field_cnn), local weights, outputs and features."""

from __future__ import annotations

import pytest
import timm
import torch

from obstacles.models import FieldCNN, ObstacleClassifier, create_backbone


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
    assert torch.equal(loaded.backbone.fc.weight, source.fc.weight)
    mismatch = r"does not fit FieldCNN.*features.0.0.weight \(16, 6, 3, 3\) vs \(16, 7, 3, 3\)"
    with pytest.raises(ValueError, match=mismatch):
        ObstacleClassifier("field_cnn", in_chans=7, weights_path=path)
    with pytest.raises(FileNotFoundError, match="no file at"):
        ObstacleClassifier("field_cnn", weights_path=tmp_path / "missing.pt")
