"""Proxy-Anchor and Proxy-NCA against pytorch-metric-learning (proxies copied over).

Proxy-NCA: the paper's denominator excludes the positive proxy (our default); PML's includes it
(a softmax). PML is checked with ``exclude_positive=False``, the paper's form against a loop.
"""

from __future__ import annotations

import pytest
import torch
from loss_oracle import BATCH_SIZES, assert_close, assert_same, loss_and_grads, random_batch

from metriclab.distances import CosineSimilarity
from metriclab.losses import ProxyAnchorLoss, ProxyNCALoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

CLASSES, DIM = 40, 64


def copied(ours, theirs):
    theirs.proxies.data.copy_(ours.proxies.data)
    return theirs


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_proxy_anchor_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM)
    ours = ProxyAnchorLoss(CLASSES, DIM)
    assert_same(ours, copied(ours, pml_losses.ProxyAnchorLoss(CLASSES, DIM)), x, y)
    ours = ProxyAnchorLoss(CLASSES, DIM, margin=0.2, alpha=16)
    theirs = pml_losses.ProxyAnchorLoss(CLASSES, DIM, margin=0.2, alpha=16)
    assert_same(ours, copied(ours, theirs), x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_proxy_nca_softmax_form_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM, seed=1)
    ours = ProxyNCALoss(CLASSES, DIM, exclude_positive=False)
    assert_same(ours, copied(ours, pml_losses.ProxyNCALoss(CLASSES, DIM)), x, y)
    ours = ProxyNCALoss(
        CLASSES, DIM, softmax_scale=3.0, exclude_positive=False, distance=CosineSimilarity()
    )
    theirs = pml_losses.ProxyNCALoss(
        CLASSES, DIM, softmax_scale=3.0, distance=pml_distances.CosineSimilarity()
    )
    assert_same(ours, copied(ours, theirs), x, y)


def test_proxy_nca_paper_form_equals_loop():
    x, y = random_batch(24, dim=8, seed=2)
    loss = ProxyNCALoss(10, 8, softmax_scale=2.0)
    value, grad = loss_and_grads(loss, x, y)[:2]
    xr = x.clone().requires_grad_(True)
    xn = torch.nn.functional.normalize(xr, dim=1)
    pn = torch.nn.functional.normalize(loss.proxies.detach(), dim=1)
    terms = []
    for i in range(24):
        d = ((xn[i] - pn) ** 2).sum(1)
        negatives = torch.stack([torch.exp(-2.0 * d[z]) for z in range(10) if z != y[i]])
        terms.append(-torch.log(torch.exp(-2.0 * d[y[i]]) / negatives.sum()))
    ref = torch.stack(terms).mean()
    ref.backward()
    assert_close(value, ref.detach(), "value")
    assert_close(grad, xr.grad, "gradient")


@pytest.mark.parametrize("cls", [ProxyAnchorLoss, ProxyNCALoss])
def test_proxies_are_sized_learnable_and_checkpointed(cls):
    loss = cls(num_classes=7, embedding_size=5)
    assert loss.proxies.shape == (7, 5) and loss.proxies.requires_grad
    assert "proxies" in loss.state_dict()
    assert loss.lr_multiplier == 100.0
    assert loss.accepts_miner is False
    x, y = random_batch(14, dim=5, per_class=2)
    with pytest.raises(ValueError, match="miner"):
        loss(x, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))
    with pytest.raises(ValueError, match="num_classes"):
        loss(x, y + 7)
