"""Triplet margin loss (Weinberger & Saul 2009; Schroff et al., FaceNet, CVPR 2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metriclab import tuples
from metriclab.distances import BaseDistance, EuclideanDistance
from metriclab.losses.base import PairLoss, as_mask, mean_of_positive, with_gradient
from metriclab.losses.ranges import non_negative
from metriclab.tuples import IndicesTuple


class TripletMarginLoss(PairLoss):
    """``L = mean over triplets with l > 0 of l = [d(a, p) - d(a, n) + margin]_+``.

    Triplets: every valid ``(a, p, n)`` of the batch (``indices_tuple=None``), the triplets of a
    triplet miner, or, for mined pairs, every positive pair combined with every negative pair of
    the same anchor. The mean runs over the triplets with a non-zero loss (pytorch-metric-
    learning's ``AvgNonZeroReducer``; FaceNet sums). A similarity flips the signs.

    The all-triplets sum is never materialised (that is ``O(B^3)``): per anchor, negatives are
    sorted once, and for each positive the violating negatives are a prefix found by binary
    search, so value and exact gradient come from prefix sums in ``O(B^2 log B)`` time and
    ``O(B^2)`` memory. Shapes: ``[B, D], [B] -> scalar``.

    Args:
        margin: FaceNet's ``alpha`` = 0.2 (pytorch-metric-learning defaults to 0.05).
        distance: default squared Euclidean on L2-normalised embeddings, as in FaceNet.
    """

    def __init__(self, margin: float = 0.2, distance: BaseDistance | None = None) -> None:
        if distance is None:
            distance = EuclideanDistance(normalize_embeddings=True, squared=True)
        super().__init__(distance)
        self.margin = non_negative(
            "loss.margin",
            margin,
            "the triplet margin α (d(a,p) + α <= d(a,n))",
            0.2,
            "Schroff et al. 2015 use 0.2",
        )

    def tuple_loss(self, mat: Tensor, indices_tuple: IndicesTuple) -> Tensor:
        if len(indices_tuple) == 4:  # pairs: every shared-anchor combination, via counts
            return self.pair_loss(mat, *tuples.pair_counts(indices_tuple, *mat.shape))
        a, p, n = indices_tuple
        dist = self.distance.as_distance(mat)
        return mean_of_positive(F.relu(dist[a, p] - dist[a, n] + self.margin))

    def pair_loss(self, mat: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        sign = -1.0 if self.distance.is_inverted else 1.0
        with torch.no_grad():
            gradient, value = self._prefix_sums(mat.detach() * sign, pos, neg)
        return with_gradient(mat, gradient.mul_(sign), value)

    def _prefix_sums(self, dist: Tensor, pos: Tensor, neg: Tensor) -> tuple[Tensor, Tensor]:
        """``(W, L)``: the loss ``L`` and ``W = dL/d dist`` ``[B, R]`` (all in closed form).

        For anchor ``a`` and positive ``p`` the violating negatives are those with
        ``d_an < d_ap + margin``; the triplet ``(a, p, n)`` counts ``pos[a,p] * neg[a,n]`` times.
        """
        big = torch.finfo(dist.dtype).max
        rows = torch.arange(dist.shape[0], device=dist.device).unsqueeze(1)
        # negatives of each anchor, ascending; counts and sums accumulate in float64
        pos_mask, neg_mask = as_mask(pos), as_mask(neg)
        neg_d, neg_order = torch.where(neg_mask, dist, big).sort(dim=1)
        neg_w = neg[rows, neg_order].double()
        zero_col = torch.zeros_like(neg_w[:, :1])
        cum_w = torch.cat([zero_col, neg_w.cumsum(1)], 1)
        cum_wd = torch.cat(
            [zero_col, (neg_w * torch.where(neg_w > 0, neg_d.double(), 0)).cumsum(1)], 1
        )
        threshold = dist + self.margin
        k = torch.searchsorted(neg_d, threshold.contiguous())  # count of d_an < d_ap + margin
        n_active = cum_w.gather(1, k) * pos.double()  # [B, R]: active negatives per (a, p)
        total = (n_active * threshold.double() - cum_wd.gather(1, k) * pos.double()).sum()
        count = n_active.sum()
        # positives of each anchor, ascending; per negative, the positives with d_ap > d_an - m
        pos_d, pos_order = torch.where(pos_mask, dist, -big).sort(dim=1)
        pos_w = pos[rows, pos_order].double()
        cum_pos = torch.cat([torch.zeros_like(pos_w[:, :1]), pos_w.cumsum(1)], 1)
        j = torch.searchsorted(pos_d, (dist - self.margin).contiguous(), right=True)
        p_active = (cum_pos[:, -1:] - cum_pos.gather(1, j)) * neg.double()
        scale = 1.0 / count.clamp_min(1.0)
        weights = ((n_active - p_active) * scale).to(dist.dtype)
        return weights, (total * scale).to(dist.dtype)

    def extra_repr(self) -> str:
        return f"margin={self.margin}"
