"""PairMarginMiner: identical output to pytorch-metric-learning's PairMarginMiner."""

from __future__ import annotations

import pytest
import torch

from metriclab.distances import CosineSimilarity
from metriclab.miners import PairMarginMiner
from miners.miner_oracle import BATCH_SIZES, random_batch

pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_equals_pml(batch):
    x, y = random_batch(batch)
    ours = PairMarginMiner(pos_margin=1.3, neg_margin=1.35)(x, y)
    theirs = pml_miners.PairMarginMiner(pos_margin=1.3, neg_margin=1.35)(x, y)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert len(ours[0]) > 0 and len(ours[2]) > 0
    ours = PairMarginMiner(0.05, 0.0, distance=CosineSimilarity())(x, y)
    theirs = pml_miners.PairMarginMiner(0.05, 0.0, distance=pml_distances.CosineSimilarity())(x, y)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
