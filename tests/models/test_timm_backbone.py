"""TimmBackbone: the install hint without timm; shapes and num_features with it."""

from __future__ import annotations

import sys

import pytest
import torch

from metriclab.errors import ConfigError
from metriclab.models import TimmBackbone


def test_without_timm_says_pip_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # makes `import timm` fail
    with pytest.raises(ConfigError, match="pip install timm"):
        TimmBackbone("resnet50", pretrained=False)


def test_cnn_feature_map_and_grayscale_input() -> None:
    pytest.importorskip("timm")
    backbone = TimmBackbone("resnet18", pretrained=False, in_channels=1).eval()
    assert backbone.num_features == 512
    with torch.no_grad():
        assert backbone(torch.randn(2, 1, 64, 64)).shape == (2, 512, 2, 2)


def test_vision_transformer_gives_its_class_token() -> None:
    pytest.importorskip("timm")
    backbone = TimmBackbone("vit_tiny_patch16_224", pretrained=False).eval()
    with torch.no_grad():
        assert backbone(torch.randn(1, 3, 224, 224)).shape == (1, backbone.num_features)


def test_unknown_model_is_a_config_error() -> None:
    pytest.importorskip("timm")
    with pytest.raises(ConfigError, match="not_a_model"):
        TimmBackbone("not_a_model")
