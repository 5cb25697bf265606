"""Pair-margin mining: positive pairs too far apart, negative pairs too close."""

from __future__ import annotations

import torch
from torch import Tensor

from metriclab.distances import BaseDistance
from metriclab.losses.ranges import check_range, non_negative, positive
from metriclab.miners.base import BaseMiner
from metriclab.tuples import all_pairs_masks


class PairMarginMiner(BaseMiner):
    """Keeps positive pairs with ``d > pos_margin`` and negative pairs with ``d < neg_margin``.

    (For a similarity: ``s < pos_margin`` and ``s > neg_margin``.) Returns pairs
    ``(a1, p, a2, n)``; ``O(B^2)``. The margins are those of pytorch-metric-learning's
    ``PairMarginMiner``, suited to the contrastive loss on normalised Euclidean distances.

    Args:
        pos_margin: positive pairs farther than this are kept (0.2).
        neg_margin: negative pairs closer than this are kept (0.8).
        distance: default Euclidean on L2-normalised embeddings.
    """

    def __init__(
        self, pos_margin: float = 0.2, neg_margin: float = 0.8, distance: BaseDistance | None = None
    ) -> None:
        super().__init__(distance)
        if self.distance.is_inverted:  # a similarity: any threshold is a choice
            self.pos_margin = check_range("miner.pos_margin", pos_margin, "a similarity", 0.8)
            self.neg_margin = check_range("miner.neg_margin", neg_margin, "a similarity", 0.2)
            return
        self.pos_margin = non_negative(
            "miner.pos_margin",
            pos_margin,
            "the distance above which positive pairs are kept",
            0.2,
            "a distance is >= 0: below 0 keeps every positive pair",
        )
        self.neg_margin = positive(
            "miner.neg_margin",
            neg_margin,
            "the distance below which negative pairs are kept",
            0.8,
            "a distance is >= 0: at 0 or below no negative pair is ever kept",
        )

    def mine(self, dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        pos, neg = all_pairs_masks(labels)
        sign = -1.0 if self.distance.is_inverted else 1.0  # ``dist`` is a negated similarity
        a1, p = torch.nonzero(pos & (dist > sign * self.pos_margin), as_tuple=True)
        a2, n = torch.nonzero(neg & (dist < sign * self.neg_margin), as_tuple=True)
        return a1, p, a2, n
