"""Every YAML of the ``loss`` group composes, instantiates as the pipeline does, and runs."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class, instantiate
from loss_oracle import random_batch

from metriclab import losses
from metriclab.losses.base import complete_loss

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NAMES = sorted(p.stem for p in (CONFIGS / "loss").glob("*.yaml"))
C, D = 6, 16


def build(overrides: list[str]):
    """Compose ``loss/...`` with ``overrides`` and instantiate it like the training pipeline."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="loss/" + overrides[0], overrides=overrides[1:])
    params = inspect.signature(get_class(cfg.loss._target_)).parameters
    sizes = {k: v for k, v in {"num_classes": C, "embedding_size": D}.items() if k in params}
    return cfg, instantiate(cfg.loss, **sizes)


def pipeline_build(overrides: list[str]):
    """Exactly what the training pipeline does: a partial of ``cfg.loss``, then sizes if taken."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="loss/" + overrides[0], overrides=overrides[1:])
    factory = instantiate(cfg.loss, _partial_=True)
    return cfg, complete_loss(factory, num_classes=C, embedding_size=D)


PROXY_LOSSES = {"proxy_nca", "proxy_anchor", "arcface", "cosface", "normsoftmax"}
METRICS = [n for n in NAMES if n not in ("joint_ce", "xbm")]
PIPELINE_CASES = (
    [[n] for n in NAMES]
    + [["joint_ce", f"loss@loss.metric={m}"] for m in METRICS]
    + [["xbm", f"loss@loss.metric={m}"] for m in ("contrastive", "triplet", "multisim", "circle")]
)


@pytest.mark.parametrize(
    "overrides", PIPELINE_CASES, ids=lambda o: "-".join([o[0], *(v.split("=")[1] for v in o[1:])])
)
def test_pipeline_path_builds_every_loss(overrides):
    cfg, loss = pipeline_build(overrides)
    name = overrides[0]
    assert type(loss) is get_class(cfg.loss._target_)
    inner = loss.metric if name in ("joint_ce", "xbm") else loss
    inner_name = overrides[1].split("=")[1] if len(overrides) > 1 else name
    if inner_name in PROXY_LOSSES:  # sized from the data and the head
        assert inner.proxies.shape == (C, D)
    if name == "joint_ce":
        assert loss.classifier.weight.shape == (C, D)
    if name == "xbm":
        assert loss.embedding_memory.shape == (loss.memory_size, D)
    x, y = random_batch(24, dim=D, per_class=4)
    x.requires_grad_(True)
    value = loss(x, y)
    value.backward()
    assert torch.isfinite(value) and x.grad.abs().sum() > 0


def test_the_issue_s_losses_exist():
    required = {
        "contrastive",
        "triplet",
        "npair",
        "multisim",
        "circle",
        "proxy_nca",
        "proxy_anchor",
        "arcface",
        "cosface",
        "normsoftmax",
    }
    assert required <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_composes_instantiates_and_trains(name):
    cfg, loss = build([name])
    assert cfg.loss._target_.startswith("metriclab.losses.")
    assert isinstance(loss, torch.nn.Module)
    x, y = random_batch(24, dim=D, per_class=4)
    x.requires_grad_(True)
    value = loss(x, y)
    value.backward()
    assert torch.isfinite(value) and x.grad.abs().sum() > 0
    if list(loss.parameters()):
        assert isinstance(loss.lr_multiplier, float)


def test_proxy_anchor_trains_proxies_at_100x():
    _, loss = build(["proxy_anchor"])
    assert loss.lr_multiplier == 100.0 and loss.proxies.shape == (C, D)


@pytest.mark.parametrize("distance", ["cosine", "dot_product", "euclidean", "squared_euclidean"])
def test_distance_is_a_config_choice(distance):
    similarity = distance in ("cosine", "dot_product")  # positives above 1, negatives below 0
    margins = ["loss.pos_margin=1", "loss.neg_margin=0"] if similarity else []
    _, loss = build(["contrastive", f"loss/distance={distance}", *margins])
    expected = {"cosine": "CosineSimilarity", "dot_product": "DotProductSimilarity"}
    assert type(loss.distance).__name__ == expected.get(distance, "EuclideanDistance")
    _, raw = build(["triplet", "loss.distance.normalize_embeddings=false"])
    assert raw.distance.normalize_embeddings is False


@pytest.mark.parametrize("metric", [n for n in NAMES if n not in ("joint_ce", "xbm")])
def test_joint_ce_wraps_every_loss(metric):
    _, joint = build(["joint_ce", f"loss@loss.metric={metric}"])
    assert isinstance(joint, losses.JointCrossEntropyLoss)
    assert type(joint.metric).__name__ == get_class(build([metric])[0].loss._target_).__name__
    x, y = random_batch(24, dim=D)
    assert torch.isfinite(joint(x, y))


@pytest.mark.parametrize("metric", ["contrastive", "triplet", "multisim", "circle"])
def test_xbm_wraps_every_pair_loss(metric):
    _, xbm = build(["xbm", f"loss@loss.metric={metric}", "loss.memory_size=48"])
    assert xbm.memory_size == 48 and isinstance(xbm.metric, losses.PairLoss)
    x, y = random_batch(24, dim=D)
    assert torch.isfinite(xbm(x, y))
