"""MultiSimilarityLoss against pytorch-metric-learning (same definition and defaults)."""

from __future__ import annotations

import pytest
from loss_oracle import BATCH_SIZES, assert_same, random_batch

from metriclab.distances import EuclideanDistance
from metriclab.losses import MultiSimilarityLoss
from metriclab.miners import BatchHardMiner, MultiSimilarityMiner, PairMarginMiner

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_default_equals_pml(batch):
    x, y = random_batch(batch)
    assert_same(MultiSimilarityLoss(), pml_losses.MultiSimilarityLoss(), x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_other_parameters_and_distance_equal_pml(batch):
    x, y = random_batch(batch, seed=1)
    ours = MultiSimilarityLoss(alpha=1.0, beta=20.0, base=1.2, distance=EuclideanDistance())
    theirs = pml_losses.MultiSimilarityLoss(
        alpha=1.0, beta=20.0, base=1.2, distance=pml_distances.LpDistance()
    )
    assert_same(ours, theirs, x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("miner", [MultiSimilarityMiner, BatchHardMiner, PairMarginMiner])
def test_with_mined_tuples_equals_pml(batch, miner):
    x, y = random_batch(batch, seed=2)
    indices = miner()(x, y)
    assert len(indices[0]) > 0
    assert_same(MultiSimilarityLoss(), pml_losses.MultiSimilarityLoss(), x, y, indices)
