"""CircleLoss against pytorch-metric-learning (same per-anchor definition and defaults)."""

from __future__ import annotations

import pytest
import torch
from loss_oracle import BATCH_SIZES, assert_same, random_batch

from metriclab.distances import EuclideanDistance
from metriclab.losses import CircleLoss
from metriclab.miners import BatchHardMiner, MultiSimilarityMiner

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_default_equals_pml(batch):
    x, y = random_batch(batch)
    assert_same(CircleLoss(), pml_losses.CircleLoss(), x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_face_setting_equals_pml(batch):
    x, y = random_batch(batch, seed=1)
    assert_same(CircleLoss(m=0.25, gamma=256), pml_losses.CircleLoss(m=0.25, gamma=256), x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("miner", [MultiSimilarityMiner, BatchHardMiner])
def test_with_mined_tuples_equals_pml(batch, miner):
    x, y = random_batch(batch, seed=2)
    indices = miner()(x, y)
    assert_same(CircleLoss(), pml_losses.CircleLoss(), x, y, indices)


def test_loop_reference_of_the_paper_formula():
    x, y = random_batch(12, seed=3, per_class=3)
    m, gamma = 0.4, 80.0
    s = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(x, dim=1).t()
    losses = []
    for i in range(12):
        lp = [
            -gamma * max(1 + m - s[i, j], 0) * (s[i, j] - (1 - m))
            for j in range(12)
            if j != i and y[j] == y[i]
        ]
        ln = [gamma * max(s[i, j] + m, 0) * (s[i, j] - m) for j in range(12) if y[j] != y[i]]
        z = torch.logsumexp(torch.stack(lp), 0) + torch.logsumexp(torch.stack(ln), 0)
        losses.append(torch.nn.functional.softplus(z))
    expected = torch.stack(losses).mean()
    assert CircleLoss()(x, y).item() == pytest.approx(expected.item(), rel=1e-5)


def test_refuses_a_distance():
    with pytest.raises(ValueError, match="similarity"):
        CircleLoss(distance=EuclideanDistance())
