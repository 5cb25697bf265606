"""``loss=proxy_nca`` against pytorch-metric-learning (proxies copied over) and a loop.

The paper's denominator excludes the positive proxy (our default); PML's includes it (a
softmax). PML is checked with ``exclude_positive=False``, the paper's form against a loop.
"""

from __future__ import annotations

import pytest
import torch
from loss_oracle import (
    BATCH_SIZES,
    CLASSES,
    DIM,
    assert_close,
    assert_same,
    check_proxies,
    copy_proxies,
    loss_and_grads,
    random_batch,
)

from metriclab.distances import CosineSimilarity
from metriclab.losses import ProxyNCALoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_proxy_nca_softmax_form_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM, seed=1)
    ours = ProxyNCALoss(CLASSES, DIM, exclude_positive=False)
    assert_same(ours, copy_proxies(ours, pml_losses.ProxyNCALoss(CLASSES, DIM)), x, y)
    ours = ProxyNCALoss(
        CLASSES, DIM, softmax_scale=3.0, exclude_positive=False, distance=CosineSimilarity()
    )
    theirs = pml_losses.ProxyNCALoss(
        CLASSES, DIM, softmax_scale=3.0, distance=pml_distances.CosineSimilarity()
    )
    assert_same(ours, copy_proxies(ours, theirs), x, y)


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


def test_proxies_are_sized_learnable_and_checkpointed():
    check_proxies(ProxyNCALoss, "miner", "num_classes")
    assert ProxyNCALoss(num_classes=3, embedding_size=2).lr_multiplier == 100.0
