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


def saved_weights(tmp_path, name: str) -> str:
    import timm

    model = timm.create_model(name, pretrained=False)
    path = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), path)
    return str(path)


def test_weights_path_loads_a_local_file(tmp_path) -> None:
    path = saved_weights(tmp_path, "resnet18")
    backbone = TimmBackbone("resnet18", pretrained=False, weights_path=path)
    saved = torch.load(path, weights_only=True)
    for key, value in backbone.body.state_dict().items():
        assert torch.equal(value, saved[key]), key
    with pytest.raises(ConfigError, match="does_not_exist.pth does not exist"):
        TimmBackbone("resnet18", weights_path=str(tmp_path / "does_not_exist.pth"))


def test_weights_of_another_model_are_a_config_error(tmp_path) -> None:
    path = saved_weights(tmp_path, "resnet18")
    with pytest.raises(ConfigError, match="Could not load backbone.weights_path"):
        TimmBackbone("resnet34", weights_path=path)


def test_normalisation_must_match_the_weights(tmp_path) -> None:
    path = saved_weights(tmp_path, "tf_efficientnet_lite0")
    imagenet = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    with pytest.raises(ConfigError, match=r"backbone.mean=\[0.5, 0.5, 0.5\]"):
        TimmBackbone("tf_efficientnet_lite0", weights_path=path, **imagenet)
    ok = TimmBackbone("tf_efficientnet_lite0", weights_path=path, mean=[0.5] * 3, std=[0.5] * 3)
    assert ok.mean == (0.5, 0.5, 0.5)
    assert TimmBackbone("tf_efficientnet_lite0", pretrained=False, **imagenet).std == (
        0.229,
        0.224,
        0.225,
    )  # no weights: any normalisation
