"""Batch-hard triplet mining (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss", 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from metriclab.distances import BaseDistance
from metriclab.miners.base import BaseMiner
from metriclab.tuples import all_pairs_masks


class BatchHardMiner(BaseMiner):
    """One triplet per anchor: its farthest positive and its closest negative.

    ``p_a = argmax_{p: y_p = y_a, p != a} d(a, p)``, ``n_a = argmin_{n: y_n != y_a} d(a, n)``.
    Anchors without a positive or a negative are skipped. Returns ``(a, p, n)``, each
    ``int64 [<= B]``; ``O(B^2)`` time and memory.

    Args:
        distance: default Euclidean on L2-normalised embeddings.
    """

    def __init__(self, distance: BaseDistance | None = None) -> None:
        super().__init__(distance)

    def mine(self, dist: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pos, neg = all_pairs_masks(labels)
        hardest_pos = dist.masked_fill(~pos, -math.inf).argmax(dim=1)
        hardest_neg = dist.masked_fill(~neg, math.inf).argmin(dim=1)
        anchors = torch.nonzero(pos.any(1) & neg.any(1), as_tuple=True)[0]
        return anchors, hardest_pos[anchors], hardest_neg[anchors]
