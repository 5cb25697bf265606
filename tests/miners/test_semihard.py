"""SemiHardMiner against a loop over FaceNet's definition.

PML has no miner with this definition (its TripletMarginMiner("semihard") returns *every*
semi-hard triplet, O(B^3)); ours keeps, per positive pair, the closest semi-hard negative.
"""

from __future__ import annotations

import pytest
import torch

from metriclab.distances import CosineSimilarity, EuclideanDistance
from metriclab.miners import SemiHardMiner
from miners.miner_oracle import BATCH_SIZES, as_set, random_batch


def loop_reference(dist: torch.Tensor, y: torch.Tensor, margin: float) -> set:
    out = set()
    b = len(y)
    for a in range(b):
        for p in range(b):
            if p == a or y[p] != y[a]:
                continue
            band = [
                (dist[a, n].item(), n)
                for n in range(b)
                if y[n] != y[a] and dist[a, p] < dist[a, n] < dist[a, p] + margin
            ]
            if band:
                out.add((a, p, min(band)[1]))
    return out


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_equals_loop_reference(batch):
    x, y = random_batch(batch, dim=8)
    found = SemiHardMiner(margin=0.2)(x, y)
    dist = EuclideanDistance(squared=True)(x)
    assert as_set(*found) == loop_reference(dist, y, 0.2) and len(found[0]) > 0


def test_similarity_flips_the_band():
    x, y = random_batch(32, dim=8, seed=1)
    found = SemiHardMiner(margin=0.3, distance=CosineSimilarity())(x, y)
    dist = -CosineSimilarity()(x)
    assert as_set(*found) == loop_reference(dist, y, 0.3) and len(found[0]) > 0
