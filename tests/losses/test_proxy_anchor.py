"""``loss=proxy_anchor`` against pytorch-metric-learning (proxies copied over)."""

from __future__ import annotations

import pytest
from loss_oracle import (
    BATCH_SIZES,
    CLASSES,
    DIM,
    assert_same,
    check_proxies,
    copy_proxies,
    random_batch,
)

from metriclab.losses import ProxyAnchorLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_proxy_anchor_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM)
    ours = ProxyAnchorLoss(CLASSES, DIM)
    assert_same(ours, copy_proxies(ours, pml_losses.ProxyAnchorLoss(CLASSES, DIM)), x, y)
    ours = ProxyAnchorLoss(CLASSES, DIM, margin=0.2, alpha=16)
    theirs = pml_losses.ProxyAnchorLoss(CLASSES, DIM, margin=0.2, alpha=16)
    assert_same(ours, copy_proxies(ours, theirs), x, y)


def test_proxies_are_sized_learnable_and_checkpointed():
    check_proxies(ProxyAnchorLoss, "miner", "num_classes")
    assert ProxyAnchorLoss(num_classes=3, embedding_size=2).lr_multiplier == 100.0
