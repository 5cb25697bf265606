"""Semi-hard negative mining (Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015)."""

from __future__ import annotations

import torch
from torch import Tensor

from metriclab.distances import BaseDistance, EuclideanDistance
from metriclab.losses.ranges import positive
from metriclab.miners.base import BaseMiner
from metriclab.tuples import all_pairs_masks


class SemiHardMiner(BaseMiner):
    """For every positive pair, the closest negative that is still farther than the positive.

    FaceNet's semi-hard triplets: for each anchor-positive pair ``(a, p)`` the negative ``n``
    minimising ``d(a, n)`` subject to ``d(a, p) < d(a, n) < d(a, p) + margin`` (harder than
    the positive would be a hard negative, beyond the margin gives no loss). Pairs with no such
    negative are dropped. Returns triplets ``(a, p, n)``, at most one per positive pair, found
    by binary search in each anchor's sorted negatives: ``O(B^2 log B)`` time, ``O(B^2)`` memory.

    Args:
        margin: FaceNet's ``alpha`` = 0.2 (use the triplet loss's margin).
        distance: default squared Euclidean on L2-normalised embeddings (FaceNet's).
    """

    def __init__(self, margin: float = 0.2, distance: BaseDistance | None = None) -> None:
        if distance is None:
            distance = EuclideanDistance(normalize_embeddings=True, squared=True)
        super().__init__(distance)
        self.margin = positive(
            "miner.margin",
            margin,
            "the semi-hard band width α (d(a,p) < d(a,n) < d(a,p) + α; 0 mines nothing)",
            0.2,
            "Schroff et al. 2015 use 0.2, the triplet loss's margin",
        )

    def mine(self, dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pos, neg = all_pairs_masks(labels)
        neg_sorted, neg_order = dist.masked_fill(~neg, torch.inf).sort(dim=1)
        first_farther = torch.searchsorted(neg_sorted, dist.contiguous(), right=True)
        first_farther = first_farther.clamp_max(dist.shape[1] - 1)
        candidate = neg_sorted.gather(1, first_farther)  # inf when no negative is farther
        keep = pos & (candidate > dist) & (candidate < dist + self.margin)
        a, p = torch.nonzero(keep, as_tuple=True)
        return a, p, neg_order[a, first_farther[a, p]]
