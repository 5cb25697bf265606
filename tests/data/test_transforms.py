"""The train / test transforms: shapes, the standard test pipeline recomputed by hand, and the
configurable affine augmentation for handwriting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import RandomAffine

from metriclab.data.transforms import AFFINE, build_transform
from metriclab.errors import ConfigError


def photo(width: int = 300, height: int = 200, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_standard_test_transform_is_resize_then_center_crop_then_normalise():
    image = photo()
    out = build_transform(train=False, image_size=224)(image)
    # by hand: shorter side 200 -> 256 (width 384), center 224 x 224, ImageNet statistics
    resized = np.asarray(image.resize((384, 256), Image.BILINEAR), dtype=np.float32) / 255
    top, left = (256 - 224) // 2, (384 - 224) // 2
    crop = resized[top : top + 224, left : left + 224].transpose(2, 0, 1)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
    expected = torch.from_numpy((crop - mean) / std)
    assert out.shape == (3, 224, 224)
    # torchvision resizes with antialiasing, PIL too: the same up to rounding of the uint8 step
    assert torch.allclose(out, expected, atol=0.05)
    assert (out - expected).abs().mean() < 0.01


@pytest.mark.parametrize("augment", ["standard", "flip_crop", "affine", "none"])
def test_train_transforms_give_the_configured_size(augment):
    torch.manual_seed(0)
    out = build_transform(train=True, image_size=32, train_augment=augment)(photo())
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32


def test_grayscale_takes_one_mean_and_std():
    image = photo().convert("L")
    out = build_transform(
        train=False, image_size=28, train_augment="affine", mean=[0.5], std=[0.25]
    )(image)
    expected = (np.asarray(image.resize((42, 28), Image.BILINEAR), np.float32) / 255 - 0.5) / 0.25
    assert out.shape == (1, 28, 28)
    assert torch.allclose(out[0], torch.from_numpy(expected[:, 7:35]), atol=0.05)


def test_affine_ranges_come_from_the_config():
    default = build_transform(train=True, image_size=28, train_augment="affine")
    (affine,) = [t for t in default.transforms if isinstance(t, RandomAffine)]
    assert affine.degrees == [-AFFINE["degrees"], AFFINE["degrees"]]
    assert affine.translate == (0.1, 0.1) and affine.scale == (0.9, 1.1) and affine.shear is None
    strong = {"degrees": 15, "translate": 0.15, "scale": [0.8, 1.2], "shear": 10}
    custom = build_transform(train=True, image_size=28, train_augment="affine", affine=strong)
    (affine,) = [t for t in custom.transforms if isinstance(t, RandomAffine)]
    assert affine.degrees == [-15.0, 15.0] and affine.translate == (0.15, 0.15)
    assert affine.scale == (0.8, 1.2) and affine.shear == [-10.0, 10.0]


def test_identity_affine_equals_the_test_transform():
    identity = {"degrees": 0, "translate": 0, "scale": [1, 1], "shear": 0}
    image = photo(28, 28)
    train = build_transform(train=True, image_size=28, train_augment="affine", affine=identity)
    test = build_transform(train=False, image_size=28, train_augment="affine")
    assert torch.equal(train(image), test(image))


def test_bad_augment_options_are_one_clear_error():
    with pytest.raises(ConfigError, match="data.train_augment='flip' is not one of"):
        build_transform(train=True, image_size=28, train_augment="flip")
    with pytest.raises(ConfigError, match=r"data.affine has unknown key\(s\) \['rotate'\]"):
        build_transform(train=True, image_size=28, train_augment="affine", affine={"rotate": 5})


def striped(width: int = 800, height: int = 200) -> Image.Image:
    """A wide (4:1) photo: red left quarter, blue right quarter, gray between."""
    pixels = np.full((height, width, 3), 128, dtype=np.uint8)
    pixels[:, : width // 4] = (255, 0, 0)
    pixels[:, -width // 4 :] = (0, 0, 255)
    return Image.fromarray(pixels)


def test_square_resize_squashes_the_whole_photo_then_crops_the_center():
    image = photo()  # 300 x 200
    out = build_transform(train=False, image_size=224, resize="square")(image)
    # by hand: 300 x 200 -> 256 x 256 (aspect changed), center 224 x 224, ImageNet statistics
    resized = np.asarray(image.resize((256, 256), Image.BILINEAR), dtype=np.float32) / 255
    crop = resized[16:240, 16:240].transpose(2, 0, 1)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
    expected = torch.from_numpy((crop - mean) / std)
    assert out.shape == (3, 224, 224)
    assert (out - expected).abs().mean() < 0.01


@pytest.mark.parametrize("train", [False, True])
def test_square_keeps_both_ends_of_a_wide_photo_where_shorter_side_cuts_them(train):
    """A 4:1 photo: the center crop of shorter_side (and its widest training crop, 4:3) sees
    neither end; square sees both, and so does a full-area training crop of the square."""
    plain = dict(mean=(0, 0, 0), std=(1, 1, 1), crop_scale=(1.0, 1.0))
    torch.manual_seed(0)
    kept = build_transform(train=train, image_size=64, resize="square", **plain)(striped())
    cut = build_transform(train=train, image_size=64, resize="shorter_side", **plain)(striped())
    red = (kept[0] > 0.9) & (kept[2] < 0.1)
    blue = (kept[2] > 0.9) & (kept[0] < 0.1)
    assert red.any() and blue.any()  # both ends of the photo are in the square
    red_cut, blue_cut = (cut[0] > 0.9) & (cut[2] < 0.1), (cut[2] > 0.9) & (cut[0] < 0.1)
    assert not red_cut.any() and not blue_cut.any()  # the middle of the photo, gray only


def test_square_and_shorter_side_agree_on_square_images():
    image = photo(120, 120)
    for augment in ("standard", "affine"):
        a = build_transform(train=False, image_size=96, train_augment=augment)(image)
        b = build_transform(train=False, image_size=96, train_augment=augment, resize="square")
        assert torch.allclose(a, b(image))


def test_unknown_resize_is_one_clear_error():
    with pytest.raises(ConfigError, match="data.resize='oval' is not one of shorter_side, square"):
        build_transform(train=False, image_size=28, resize="oval")
