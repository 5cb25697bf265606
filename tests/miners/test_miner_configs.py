"""Every YAML of the ``miner`` group composes and instantiates; every miner feeds every loss."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from metriclab import losses
from metriclab.miners import BaseMiner

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ALL_NAMES = sorted(p.stem for p in (CONFIGS / "miner").glob("*.yaml"))
NAMES = [n for n in ALL_NAMES if n != "none"]  # the miners proper
PAIR_AND_TRIPLET_LOSSES = [
    losses.ContrastiveLoss,
    losses.TripletMarginLoss,
    losses.NPairLoss,
    losses.MultiSimilarityLoss,
    losses.CircleLoss,
]


@functools.cache
def compose_miner(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="miner/" + name, overrides=list(overrides)).miner


def build(name: str, *overrides: str):
    """The miner as the pipeline builds it: ``None`` for an empty ``cfg.miner`` (miner=none)."""
    cfg = compose_miner(name, *overrides)
    return None if len(cfg) == 0 else instantiate(cfg)


def test_none_is_an_empty_mapping():
    assert "none" in ALL_NAMES
    cfg = compose_miner("none")
    assert isinstance(cfg, DictConfig) and len(cfg) == 0
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(overrides=["+miner=none", "+loss=contrastive"])  # as a group option
    assert OmegaConf.to_container(cfg.miner) == {}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_yaml_composes_and_builds(name):
    miner = build(name)
    if name == "none":
        assert miner is None
    else:
        assert isinstance(miner, BaseMiner)


def test_the_issue_s_miners_exist():
    assert {"batch_hard", "semihard", "multisim", "pair_margin", "distance_weighted"} <= set(NAMES)


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("loss_cls", PAIR_AND_TRIPLET_LOSSES, ids=lambda c: c.__name__)
def test_every_miner_works_with_every_pair_or_triplet_loss(name, loss_cls):
    miner = build(name)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 16, generator=gen, requires_grad=True)
    y = torch.arange(32) % 8
    if miner is None:  # miner=none: every pair of the batch
        value = loss_cls()(x, y)
    else:
        indices = miner(x, y)
        assert len(indices) in (3, 4) and all(t.dtype == torch.int64 for t in indices)
        assert len(indices[0]) > 0, f"{name} mined nothing on a random batch"
        value = loss_cls()(x, y, indices)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()


def test_miner_distance_is_a_config_choice():
    assert (
        type(build("batch_hard", "miner/distance=cosine").distance).__name__ == "CosineSimilarity"
    )
    assert build("semihard", "miner.margin=0.5").margin == 0.5


REFUSING = {
    "proxy_nca": lambda: losses.ProxyNCALoss(8, 16),
    "proxy_anchor": lambda: losses.ProxyAnchorLoss(8, 16),
    "arcface": lambda: losses.ArcFaceLoss(8, 16),
    "cosface": lambda: losses.CosFaceLoss(8, 16),
    "normsoftmax": lambda: losses.NormSoftmaxLoss(8, 16),
    "joint_ce(proxy_anchor)": lambda: losses.JointCrossEntropyLoss(
        losses.ProxyAnchorLoss(8, 16), 8, 16
    ),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("loss", sorted(REFUSING))
def test_proxy_and_classification_losses_refuse_every_miner(name, loss):
    miner = build(name)
    x, y = torch.randn(32, 16), torch.arange(32) % 8
    built = REFUSING[loss]()
    assert built.accepts_miner is False
    with pytest.raises(ValueError, match="miner=none"):
        built(x, y, miner(x, y))


@pytest.mark.parametrize("name", NAMES)
def test_a_single_class_batch_mines_nothing_and_the_loss_stays_finite(name):
    miner = build(name)
    x = torch.randn(16, 16, requires_grad=True)
    y = torch.zeros(16, dtype=torch.long)
    indices = miner(x, y)
    assert all(len(t) == 0 for t in indices[-2:]), "a negative was mined from a single class"
    for loss_cls in PAIR_AND_TRIPLET_LOSSES:
        value = loss_cls()(x, y, indices)
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(x.grad).all()
