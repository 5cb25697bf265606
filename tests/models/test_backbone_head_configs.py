"""Every YAML of the ``backbone`` group and ``head/default`` composes and instantiates."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from metriclab.models import EmbeddingHead, EmbeddingModel

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BACKBONES = sorted(p.stem for p in (CONFIGS / "backbone").glob("*.yaml"))


def compose_group(name: str, channels: int = 3, image_size: int = 8):
    """Compose ``name`` (e.g. ``backbone/resnet18``) with ``data.channels`` and
    ``data.image_size`` set (what the data config gives a run), offline."""
    overrides = [f"+data.channels={channels}", f"+data.image_size={image_size}"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides)
    group = cfg[name.split("/")[0]]
    if "pretrained" in group:
        group.pretrained = False  # no network in tests
    return cfg


def test_the_spec_s_backbones_exist() -> None:
    assert {"small_cnn", "resnet18", "resnet50", "vit_b_16", "timm"} <= set(BACKBONES)


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_config_instantiates(name: str) -> None:
    cfg = compose_group(f"backbone/{name}", channels=3)
    target = get_class(cfg.backbone._target_)
    params = inspect.signature(target).parameters
    assert set(cfg.backbone) - {"_target_"} <= set(params)  # no silently dropped key
    if target.__name__ != "SmallCNN":  # every ImageNet backbone takes pretrained
        assert "pretrained" in cfg.backbone
    if target.__name__ == "TimmBackbone" and importlib.util.find_spec("timm") is None:
        pytest.skip("timm is not installed")
    backbone = instantiate(cfg.backbone)
    assert isinstance(backbone.num_features, int) and backbone.num_features > 0
    assert backbone.in_channels == 3


def test_imagenet_backbones_take_weights_path() -> None:
    for name in BACKBONES:
        node = OmegaConf.load(CONFIGS / "backbone" / f"{name}.yaml")
        if str(node.get("_target_", "")).endswith("TorchvisionBackbone"):
            assert node.name == name and node.pretrained is True and node.weights_path is None


def test_head_config_is_partial_and_completed_with_in_features() -> None:
    cfg = compose_group("head/default")
    assert cfg.head._partial_ is True
    head = instantiate(cfg.head)(in_features=12)
    assert isinstance(head, EmbeddingHead) and head.embedding_size == 128


def test_small_cnn_and_head_from_configs_embed_digits() -> None:
    backbone = instantiate(compose_group("backbone/small_cnn", channels=1).backbone)
    head = instantiate(compose_group("head/default").head)(in_features=backbone.num_features)
    model = EmbeddingModel(backbone, head)
    out = model(torch.randn(4, 1, 8, 8))
    assert out.shape == (4, model.embedding_size)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))
