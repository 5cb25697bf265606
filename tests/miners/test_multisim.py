"""MultiSimilarityMiner: the same pairs as pytorch-metric-learning's (order aside)."""

from __future__ import annotations

import pytest

from metriclab.distances import EuclideanDistance
from metriclab.miners import MultiSimilarityMiner
from miners.miner_oracle import BATCH_SIZES, as_set, random_batch

pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("epsilon", [0.1, 0.3])
def test_equals_pml(batch, epsilon):
    x, y = random_batch(batch)
    a1, p, a2, n = MultiSimilarityMiner(epsilon)(x, y)
    t = pml_miners.MultiSimilarityMiner(epsilon)(x, y)
    assert as_set(a1, p) == as_set(t[0], t[1]) and len(a1) == len(t[0]) > 0
    assert as_set(a2, n) == as_set(t[2], t[3]) and len(a2) == len(t[2]) > 0


def test_with_a_distance_equals_pml():
    x, y = random_batch(64, seed=1)
    ours = MultiSimilarityMiner(0.2, distance=EuclideanDistance())(x, y)
    theirs = pml_miners.MultiSimilarityMiner(0.2, distance=pml_distances.LpDistance())(x, y)
    assert as_set(*ours[:2]) == as_set(*theirs[:2]) and as_set(*ours[2:]) == as_set(*theirs[2:])
