"""``loss=cosface`` against pytorch-metric-learning (class weights copied)."""

from __future__ import annotations

import pytest
from loss_oracle import (
    BATCH_SIZES,
    CLASSES,
    DIM,
    assert_same,
    check_proxies,
    copy_class_weights,
    random_batch,
)

from metriclab.losses import CosFaceLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_cosface_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM, seed=1)
    ours = CosFaceLoss(CLASSES, DIM)
    assert_same(
        ours,
        copy_class_weights(ours, pml_losses.CosFaceLoss(CLASSES, DIM)),
        x,
        y,
        transpose_params=True,
    )


def test_class_weights_are_proxies_and_refuse_miners():
    check_proxies(CosFaceLoss, "miner=none", "embedding_size", lr_multiplier=3.0)
