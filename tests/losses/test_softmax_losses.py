"""ArcFace, CosFace and NormSoftmax against pytorch-metric-learning (class weights copied).

Deliberate differences, each checked with PML configured to match:
- ArcFace: ``margin`` is in radians (paper: 0.5); PML takes degrees (28.6 ~ 0.4992 rad).
- NormSoftmax: embeddings are normalised too (the paper's cosine softmax); PML's default
  distance is a dot product, so PML gets ``CosineSimilarity``.
PML stores the weights as ``W [D, C]``; ours are ``proxies [C, D]``.
"""

from __future__ import annotations

import math

import pytest
import torch
from loss_oracle import BATCH_SIZES, assert_same, random_batch

from metriclab.losses import ArcFaceLoss, CosFaceLoss, NormSoftmaxLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

CLASSES, DIM = 40, 64


def copied(ours, theirs):
    theirs.W.data.copy_(ours.proxies.data.t())
    return theirs


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_arcface_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM)
    ours = ArcFaceLoss(CLASSES, DIM)
    theirs = pml_losses.ArcFaceLoss(CLASSES, DIM, margin=math.degrees(0.5))
    assert_same(ours, copied(ours, theirs), x, y, transpose_params=True)


def test_arcface_keeps_the_target_logit_decreasing_past_pi_minus_m():
    loss = ArcFaceLoss(2, 2, margin=0.5, scale=1.0)
    loss.proxies.data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    far = torch.tensor([[-1.0, 0.05]])  # angle to class 0 beyond pi - m
    theirs = pml_losses.ArcFaceLoss(2, 2, margin=math.degrees(0.5), scale=1.0)
    assert_same(loss, copied(loss, theirs), far, torch.tensor([0]), transpose_params=True)


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_cosface_equals_pml(batch):
    x, y = random_batch(batch, dim=DIM, seed=1)
    ours = CosFaceLoss(CLASSES, DIM)
    assert_same(
        ours, copied(ours, pml_losses.CosFaceLoss(CLASSES, DIM)), x, y, transpose_params=True
    )


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_normsoftmax_equals_pml_with_cosine(batch):
    x, y = random_batch(batch, dim=DIM, seed=2)
    ours = NormSoftmaxLoss(CLASSES, DIM)
    theirs = pml_losses.NormalizedSoftmaxLoss(
        CLASSES, DIM, distance=pml_distances.CosineSimilarity()
    )
    assert_same(ours, copied(ours, theirs), x, y, transpose_params=True)


@pytest.mark.parametrize("cls", [ArcFaceLoss, CosFaceLoss, NormSoftmaxLoss])
def test_class_weights_are_proxies_and_refuse_miners(cls):
    loss = cls(num_classes=6, embedding_size=4, lr_multiplier=3.0)
    assert loss.proxies.shape == (6, 4) and loss.lr_multiplier == 3.0
    assert cls.accepts_miner is False
    x, y = random_batch(12, dim=4, per_class=2)
    with pytest.raises(ValueError, match="miner=none"):
        loss(x, y, (torch.tensor([0]), torch.tensor([1]), torch.tensor([2])))
    with pytest.raises(ValueError, match="embedding_size"):
        loss(torch.randn(12, 5), y)
