"""Weights for TorchvisionBackbone: the offline error and loading a local state dict file."""

from __future__ import annotations

from pathlib import Path
from urllib.error import URLError

import pytest
import torch
import torchvision

from metriclab.errors import ConfigError
from metriclab.models import TorchvisionBackbone


def _offline(*args, **kwargs):
    raise URLError("[Errno -3] Temporary failure in name resolution")


def test_pretrained_offline_says_how_to_use_weights_path(monkeypatch) -> None:
    monkeypatch.setattr(torchvision.models.ResNet18_Weights, "get_state_dict", _offline)
    with pytest.raises(ConfigError) as info:
        TorchvisionBackbone("resnet18", pretrained=True)
    message = str(info.value)
    assert "\n" not in message
    assert "offline" in message and "backbone.weights_path=" in message
    assert "resnet18-f37072fd.pth" in message


def test_pretrained_offline_through_torch_hub(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: the download must run
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    with pytest.raises(ConfigError, match="weights_path"):
        TorchvisionBackbone("efficientnet_b0", pretrained=True)


def _save(state: dict, path: Path) -> str:
    torch.save(state, path)
    return str(path)


def test_weights_path_round_trip(tmp_path: Path) -> None:
    source = torchvision.models.resnet18()
    path = _save(source.state_dict(), tmp_path / "resnet18-f37072fd.pth")
    backbone = TorchvisionBackbone("resnet18", pretrained=True, weights_path=path)
    loaded = dict(backbone.body.named_parameters()) | dict(backbone.body.named_buffers())
    expected = {k: v for k, v in source.state_dict().items() if not k.startswith("fc.")}
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)


def _assert_body_equals(backbone: TorchvisionBackbone, state: dict) -> None:
    """Every tensor of the backbone's body is the file's tensor of the same name."""
    loaded = backbone.body.state_dict()
    assert loaded, "empty body"
    for key, value in loaded.items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)


def test_classifier_keys_may_be_missing_or_of_another_size(tmp_path: Path) -> None:
    state = torchvision.models.resnet18(num_classes=100).state_dict()
    backbone = TorchvisionBackbone(
        "resnet18", weights_path=_save(state, tmp_path / "fine_tuned.pth")
    )
    _assert_body_equals(backbone, state)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    backbone = TorchvisionBackbone("resnet18", weights_path=_save(state, tmp_path / "no_fc.pth"))
    _assert_body_equals(backbone, state)


def test_wrapped_checkpoint_is_unwrapped(tmp_path: Path) -> None:
    plain = torchvision.models.resnet18().state_dict()
    state = {f"module.{k}": v for k, v in plain.items()}
    backbone = TorchvisionBackbone(
        "resnet18", weights_path=_save({"state_dict": state}, tmp_path / "c.pt")
    )
    _assert_body_equals(backbone, plain)


def test_googlenet_file_with_auxiliary_heads_loads(tmp_path: Path) -> None:
    source = torchvision.models.googlenet(aux_logits=True, init_weights=True)
    backbone = TorchvisionBackbone(
        "googlenet", weights_path=_save(source.state_dict(), tmp_path / "g.pth")
    )
    torch.testing.assert_close(backbone.body.conv1.conv.weight, source.conv1.conv.weight)
    assert hasattr(backbone.body, "transform")  # ImageNet weights expect the re-normalisation


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        TorchvisionBackbone("resnet18", weights_path=str(tmp_path / "nope.pth"))


def test_other_architecture_is_a_config_error(tmp_path: Path) -> None:
    path = _save(torchvision.models.resnet50().state_dict(), tmp_path / "resnet50.pth")
    with pytest.raises(ConfigError, match="do not fit resnet18") as info:
        TorchvisionBackbone("resnet18", weights_path=path)
    assert "\n" not in str(info.value)


def test_unrelated_keys_are_a_config_error(tmp_path: Path) -> None:
    path = _save({"encoder.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="missing keys"):
        TorchvisionBackbone("resnet18", weights_path=path)


def test_not_a_state_dict_is_a_config_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="state dict"):
        TorchvisionBackbone("resnet18", weights_path=str(garbage))
