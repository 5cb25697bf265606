"""TorchvisionBackbone without weights: shapes, grayscale input, frozen BatchNorm, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metriclab.errors import ConfigError
from metriclab.models import EmbeddingHead, EmbeddingModel, TorchvisionBackbone

# name -> (num_features, smallest convenient input side)
EXPECTED = {
    "resnet18": (512, 32),
    "resnet50": (2048, 32),
    "googlenet": (1024, 32),
    "efficientnet_b0": (1280, 32),
    "convnext_tiny": (768, 32),
    "vit_b_16": (768, 224),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forward_gives_num_features_channels(name: str) -> None:
    num_features, side = EXPECTED[name]
    backbone = TorchvisionBackbone(name, pretrained=False).eval()
    assert backbone.num_features == num_features
    with torch.no_grad():
        out = backbone(torch.randn(1, 3, side, side))
    if name.startswith("vit"):
        assert out.shape == (1, num_features)
    else:
        assert out.dim() == 4 and out.shape[:2] == (1, num_features)


def test_resnet_keeps_the_spatial_map() -> None:
    backbone = TorchvisionBackbone("resnet18").eval()
    with torch.no_grad():
        assert backbone(torch.randn(2, 3, 64, 96)).shape == (2, 512, 2, 3)


def test_grayscale_input_equals_the_repeated_rgb_image() -> None:
    gray = TorchvisionBackbone("resnet18", in_channels=1).eval()
    rgb = TorchvisionBackbone("resnet18", in_channels=3).eval()
    rgb.load_state_dict(gray.state_dict())
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(gray(x), rgb(x.repeat(1, 3, 1, 1)))


def test_wrong_input_channels_are_reported() -> None:
    with pytest.raises(ValueError, match="in_channels"):
        TorchvisionBackbone("resnet18", in_channels=1)(torch.randn(1, 3, 32, 32))


def _running_stats(module: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for n, b in module.named_buffers() if "running_" in n]


@pytest.mark.parametrize("frozen_bn", [True, False])
def test_frozen_bn_keeps_running_statistics(frozen_bn: bool) -> None:
    backbone = TorchvisionBackbone("resnet18", frozen_bn=frozen_bn)
    model = EmbeddingModel(backbone, EmbeddingHead(backbone.num_features, 16))
    model.eval()
    model.train()  # the pipeline's call; frozen BatchNorms must stay in eval mode
    before = _running_stats(backbone)
    model(torch.randn(4, 3, 32, 32) * 3 + 1).sum().backward()
    after = _running_stats(backbone)
    unchanged = all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert unchanged == frozen_bn
    norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert backbone.training and all(m.training != frozen_bn for m in norms)
    assert all(m.weight.grad is not None for m in norms)  # affine parameters still learn


def test_unknown_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="resnet51"):
        TorchvisionBackbone("resnet51")
    with pytest.raises(ConfigError, match="families"):
        TorchvisionBackbone("alexnet")


def test_unsupported_channel_count_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="in_channels=2"):
        TorchvisionBackbone("resnet18", in_channels=2)
