"""Multi-similarity pair mining (Wang et al., CVPR 2019, Sec. 3.3)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from metriclab.distances import BaseDistance, CosineSimilarity
from metriclab.losses.ranges import non_negative
from metriclab.miners.base import BaseMiner
from metriclab.tuples import all_pairs_masks


class MultiSimilarityMiner(BaseMiner):
    """Keeps the pairs that violate the relative-similarity condition by ``epsilon``.

    With similarities ``S``: a negative ``(i, k)`` is kept if ``S_ik + epsilon > min_{y_j = y_i}
    S_ij``; a positive if ``S_ik - epsilon < max_{y_j != y_i} S_ij`` (for a distance the
    inequalities flip). Returns pairs ``(a1, p, a2, n)``; ``O(B^2)``.

    Args:
        epsilon: the paper's 0.1.
        distance: default cosine similarity.
    """

    def __init__(self, epsilon: float = 0.1, distance: BaseDistance | None = None) -> None:
        super().__init__(CosineSimilarity() if distance is None else distance)
        self.epsilon = non_negative(
            "miner.epsilon",
            epsilon,
            "the multi-similarity mining margin ε",
            0.1,
            "Wang et al. 2019 use 0.1",
        )

    def mine(self, dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        pos, neg = all_pairs_masks(labels)
        closest_neg = dist.masked_fill(~neg, math.inf).amin(dim=1, keepdim=True)
        farthest_pos = dist.masked_fill(~pos, -math.inf).amax(dim=1, keepdim=True)
        hard_pos = pos & (dist + self.epsilon > closest_neg)
        hard_neg = neg & (dist - self.epsilon < farthest_pos)
        a1, p = torch.nonzero(hard_pos, as_tuple=True)
        a2, n = torch.nonzero(hard_neg, as_tuple=True)
        return a1, p, a2, n
