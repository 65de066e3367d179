"""Training data: tensors, diff-mask channel, load-time weights, joint augmentations."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from obstacles.data import PairTransform, read_manifest
from obstacles.io.images import read_pair
from obstacles.weights import compute_sample_weights
from obstacles.weights.curve import diff_mask
from tests.helpers.training import train_cfg, write_pair_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_pair_dataset(root, n_pairs=16, panel=16)
    return root


def datamodule(root, *overrides):
    module = instantiate(train_cfg(root, *overrides).data)
    module.setup("fit")
    return module


def test_samples_are_reference_and_current_in_unit_range(root):
    module = datamodule(root, "augment=none")
    item = module.train_set[0]
    reference, current = read_pair(module.train_set.rows.loc[0, "file"])
    assert item["image"].shape == (6, 16, 16) and item["image"].dtype == torch.float32
    np.testing.assert_allclose(item["image"][:3].permute(1, 2, 0).numpy(), reference / 255.0, atol=1e-6)
    np.testing.assert_allclose(item["image"][3:].permute(1, 2, 0).numpy(), current / 255.0, atol=1e-6)
    assert item["target"].item() == float(module.train_set.rows.loc[0, "is_obstacle"])


def test_seventh_channel_is_the_diff_mask_at_the_row_threshold(root):
    module = datamodule(root, "augment=none", "data.with_diff_mask=true")
    row = module.train_set.rows.loc[1]
    reference, current = read_pair(row["file"])
    image = module.train_set[1]["image"]
    assert image.shape[0] == module.channels == 7
    np.testing.assert_array_equal(image[6].numpy(), diff_mask(reference, current, row["pixel_threshold"]))


def test_weights_follow_the_curve_config_without_touching_images(root):
    module = datamodule(root, "weighting=loss", "weights.alfa=-2.0", "weights.swc=4.0")
    rows = read_manifest(module.manifest, module.root_dir).query("split == 'train'")
    expected = compute_sample_weights(
        rows["diff_metric"], rows["is_obstacle"], alfa=-2.0, beta=2.0, gamma=8.0, swc=4.0, std_threshold_dist=0.5
    )["sample_weight"]
    np.testing.assert_allclose(module.train_set.loss_weights, expected, rtol=1e-6)
    assert module.sampler_weights is None
    assert all(module.val_set[i]["weight"] == 1.0 for i in range(len(module.val_set)))


def test_sampler_mode_uses_the_weighted_sampler_and_plain_loss(root):
    module = datamodule(root, "weighting=sampler")
    loader = module.train_dataloader()
    assert type(loader.sampler).__name__ == "DistributedWeightedSampler"
    assert np.all(module.train_set.loss_weights == 1.0)


def test_joint_transforms_move_reference_current_and_mask_together():
    rng = np.random.default_rng(0)
    reference, current = (rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(2))
    mask = (rng.random((8, 8)) > 0.5).astype(np.uint8)
    transform = PairTransform(joint=[A.HorizontalFlip(p=1.0), A.ChannelShuffle(p=1.0)])
    transform.reseed(3)
    for _ in range(5):
        out_ref, out_cur, out_mask = transform(reference, current, mask)
        np.testing.assert_array_equal(out_mask, mask[:, ::-1])
        flipped = reference[:, ::-1]
        permutation = [next(c for c in range(3) if np.array_equal(out_ref[..., k], flipped[..., c])) for k in range(3)]
        np.testing.assert_array_equal(out_cur, current[:, ::-1][..., permutation])


def test_per_panel_transforms_draw_independently():
    image = np.full((8, 8, 3), 128, np.uint8)
    transform = PairTransform(per_panel=[A.RandomBrightnessContrast(brightness_limit=0.5, contrast_limit=0.0, p=1.0)])
    transform.reseed(0)
    pairs = [transform(image, image) for _ in range(5)]
    assert any(not np.array_equal(reference, current) for reference, current, _ in pairs)
    assert all(mask is None for *_, mask in pairs)


def test_missing_manifest_names_the_dataset(tmp_path):
    with pytest.raises(Exception, match="dataset 'nowhere': no manifest at"):
        instantiate(train_cfg(tmp_path, dataset="nowhere").data)


def test_training_validates_on_val_and_never_reads_eval(root):
    module = datamodule(root)
    manifest = read_manifest(root / "datasets" / "tiny" / "manifest.csv", root)
    paths = {split: set(manifest.loc[manifest["split"] == split, "path"]) for split in ("train", "val", "eval")}
    assert all(paths.values()), "the fixture has all three splits"
    assert module.validation_split == "val"
    assert set(module.val_set.rows["path"]) == paths["val"]
    assert set(module.train_set.rows["path"]) == paths["train"]
    loaded = {module.val_set.rows["path"].iat[i] for i in range(len(module.val_set))}
    assert not loaded & paths["eval"], "the images that report are never seen in training"


def test_without_a_val_split_training_validates_on_eval_and_warns(tmp_path, caplog):
    write_pair_dataset(tmp_path, n_pairs=16, panel=16, with_val=False)
    with caplog.at_level("WARNING"):
        module = datamodule(tmp_path)
    assert module.validation_split == "eval"
    assert "no val split" in caplog.text and "optimistic" in caplog.text
