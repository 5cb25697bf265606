"""``loss=arcface`` against pytorch-metric-learning (class weights copied).

``margin`` is in radians (paper: 0.5); PML takes degrees (28.6 ~ 0.4992 rad). PML stores the
weights as ``W [D, C]``; ours are ``proxies [C, D]``.
"""

from __future__ import annotations

import math

import pytest
import torch
from loss_oracle import (
    BATCH_SIZES,
    CLASSES,
    DIM,
    assert_same,
    check_proxies,
    copy_class_weights,
    random_batch,
)

from metriclab.losses import ArcFaceLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_arcface_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM)
    ours = ArcFaceLoss(CLASSES, DIM)
    theirs = pml_losses.ArcFaceLoss(CLASSES, DIM, margin=math.degrees(0.5))
    assert_same(ours, copy_class_weights(ours, theirs), x, y, transpose_params=True)


def test_arcface_keeps_the_target_logit_decreasing_past_pi_minus_m():
    loss = ArcFaceLoss(2, 2, margin=0.5, scale=1.0)
    loss.proxies.data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    far = torch.tensor([[-1.0, 0.05]])  # angle to class 0 beyond pi - m
    theirs = pml_losses.ArcFaceLoss(2, 2, margin=math.degrees(0.5), scale=1.0)
    assert_same(
        loss, copy_class_weights(loss, theirs), far, torch.tensor([0]), transpose_params=True
    )


def test_class_weights_are_proxies_and_refuse_miners():
    check_proxies(ArcFaceLoss, "miner=none", "embedding_size", lr_multiplier=3.0)
