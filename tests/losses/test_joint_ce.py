"""JointCrossEntropyLoss: w * metric + CE of a linear classifier, around any loss."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from loss_oracle import random_batch

from metriclab.losses import JointCrossEntropyLoss, MultiSimilarityLoss, ProxyAnchorLoss
from metriclab.miners import MultiSimilarityMiner


def test_value_is_weighted_metric_plus_cross_entropy():
    x, y = random_batch(32, dim=16)
    joint = JointCrossEntropyLoss(
        MultiSimilarityLoss(), num_classes=8, embedding_size=16, metric_weight=0.3
    )
    expected = 0.3 * MultiSimilarityLoss()(x, y) + F.cross_entropy(joint.classifier(x), y)
    assert joint(x, y).item() == pytest.approx(expected.item(), rel=1e-6)
    mined = MultiSimilarityMiner()(x, y)
    expected = 0.3 * MultiSimilarityLoss()(x, y, mined) + F.cross_entropy(joint.classifier(x), y)
    assert joint(x, y, mined).item() == pytest.approx(expected.item(), rel=1e-6)


def test_trains_the_classifier_and_completes_a_proxy_loss_factory():
    factory = functools.partial(ProxyAnchorLoss, margin=0.1)
    joint = JointCrossEntropyLoss(factory, num_classes=8, embedding_size=16)
    assert joint.metric.proxies.shape == (8, 16)
    assert joint.accepts_miner is False and joint.lr_multiplier == 100.0
    x, y = random_batch(32, dim=16)
    x.requires_grad_(True)
    joint(x, y).backward()
    assert joint.classifier.weight.grad.abs().sum() > 0
    assert joint.metric.proxies.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="miner"):
        joint(x, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([4])))


def test_gradient_is_weighted_metric_plus_cross_entropy_gradient():
    """d/dx and d/dW of ``w * metric + CE`` equal the hand-summed gradients of the two terms."""
    x, y = random_batch(32, dim=16)
    joint = JointCrossEntropyLoss(
        MultiSimilarityLoss(), num_classes=8, embedding_size=16, metric_weight=0.3
    )
    mined = MultiSimilarityMiner()(x, y)
    inputs = x.clone().requires_grad_(True)
    joint(inputs, y, mined).backward()
    got_x, got_w = inputs.grad.clone(), joint.classifier.weight.grad.clone()

    ref = x.clone().requires_grad_(True)
    weight = joint.classifier.weight.detach().clone().requires_grad_(True)
    bias = joint.classifier.bias.detach().clone()
    metric_grad = torch.autograd.grad(MultiSimilarityLoss()(ref, y, mined), ref)[0]
    ce = F.cross_entropy(F.linear(ref, weight, bias), y)
    ce_x, ce_w = torch.autograd.grad(ce, (ref, weight))
    torch.testing.assert_close(got_x, 0.3 * metric_grad + ce_x, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(got_w, ce_w, rtol=1e-5, atol=1e-7)
    assert got_x.abs().sum() > 0 and metric_grad.abs().sum() > 0
