"""Pair-margin mining: positive pairs too far apart, negative pairs too close."""

from __future__ import annotations

import torch
from torch import Tensor

from metriclab.distances import BaseDistance
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
        self.pos_margin = float(pos_margin)
        self.neg_margin = float(neg_margin)

    def mine(self, dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        pos, neg = all_pairs_masks(labels)
        sign = -1.0 if self.distance.is_inverted else 1.0  # ``dist`` is a negated similarity
        a1, p = torch.nonzero(pos & (dist > sign * self.pos_margin), as_tuple=True)
        a2, n = torch.nonzero(neg & (dist < sign * self.neg_margin), as_tuple=True)
        return a1, p, a2, n
