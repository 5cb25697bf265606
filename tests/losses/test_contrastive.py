"""ContrastiveLoss against pytorch-metric-learning (same definition and defaults)."""

from __future__ import annotations

import pytest
from loss_oracle import BATCH_SIZES, assert_same, random_batch

from metriclab.distances import CosineSimilarity, EuclideanDistance
from metriclab.losses import ContrastiveLoss
from metriclab.miners import BatchHardMiner, MultiSimilarityMiner, PairMarginMiner

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_default_equals_pml(batch):
    x, y = random_batch(batch)
    assert_same(ContrastiveLoss(), pml_losses.ContrastiveLoss(), x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_cosine_and_raw_euclidean_equal_pml(batch):
    x, y = random_batch(batch, seed=1)
    ours = ContrastiveLoss(pos_margin=0.9, neg_margin=0.3, distance=CosineSimilarity())
    theirs = pml_losses.ContrastiveLoss(
        pos_margin=0.9, neg_margin=0.3, distance=pml_distances.CosineSimilarity()
    )
    assert_same(ours, theirs, x, y)
    ours = ContrastiveLoss(pos_margin=1.0, neg_margin=12.0, distance=EuclideanDistance(False))
    theirs = pml_losses.ContrastiveLoss(
        pos_margin=1.0,
        neg_margin=12.0,
        distance=pml_distances.LpDistance(normalize_embeddings=False),
    )
    assert_same(ours, theirs, x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("miner", [BatchHardMiner, MultiSimilarityMiner, PairMarginMiner])
def test_with_mined_tuples_equals_pml(batch, miner):
    x, y = random_batch(batch, seed=2)
    indices = miner()(x, y)
    assert len(indices[0]) > 0
    assert_same(ContrastiveLoss(), pml_losses.ContrastiveLoss(), x, y, indices)
