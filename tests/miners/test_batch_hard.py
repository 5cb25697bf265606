"""BatchHardMiner: identical output to pytorch-metric-learning's BatchHardMiner."""

from __future__ import annotations

import pytest
import torch

from metriclab.distances import CosineSimilarity
from metriclab.miners import BatchHardMiner
from miners.miner_oracle import BATCH_SIZES, random_batch

pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_equals_pml(batch):
    x, y = random_batch(batch)
    ours = BatchHardMiner()(x, y)
    theirs = pml_miners.BatchHardMiner()(x, y)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    ours = BatchHardMiner(distance=CosineSimilarity())(x, y)
    theirs = pml_miners.BatchHardMiner(distance=pml_distances.CosineSimilarity())(x, y)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_picks_the_farthest_positive_and_closest_negative():
    x = torch.tensor([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [0.0, -1.0], [0.9, 0.1]])
    y = torch.tensor([0, 0, 0, 1, 2])
    a, p, n = BatchHardMiner()(x, y)
    assert a.tolist() == [0, 1, 2]  # anchors 3 and 4 have no positive
    assert p.tolist() == [2, 2, 0] and n.tolist() == [4, 4, 4]
