"""Contrastive loss (Hadsell, Chopra & LeCun, CVPR 2006), in its two-margin form."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metriclab import tuples
from metriclab.distances import BaseDistance
from metriclab.errors import ConfigError
from metriclab.losses.base import PairLoss, mean_of_positive, with_gradient
from metriclab.losses.ranges import check_range, non_negative
from metriclab.tuples import IndicesTuple


def check_margins(
    pos_margin: float, neg_margin: float, distance: BaseDistance
) -> tuple[float, float]:
    """``(pos_margin, neg_margin)`` if they leave a gap for the two hinges, else a ConfigError.

    A distance needs ``0 <= pos_margin <= neg_margin`` (positives pulled inside, negatives pushed
    beyond); a similarity the reverse, ``pos_margin >= neg_margin``.
    """
    what = "the contrastive loss"
    if distance.is_inverted:  # a similarity: positives above pos_margin, negatives below neg_
        pos = check_range("loss.pos_margin", pos_margin, f"{what} positive margin", 1.0)
        neg = check_range("loss.neg_margin", neg_margin, f"{what} negative margin", 0.0)
        if neg > pos:
            raise ConfigError(
                f"loss.neg_margin={neg_margin}: with a similarity ({type(distance).__name__}) "
                f"{what} pulls positives above loss.pos_margin={pos_margin} and pushes "
                "negatives below loss.neg_margin, so neg_margin must be <= pos_margin (else "
                "no negative pair is ever pushed); set loss.pos_margin=1 loss.neg_margin=0"
            )
        return pos, neg
    note = "Hadsell et al. 2006 push negatives beyond a margin of 1 on normalised embeddings"
    pos = non_negative("loss.pos_margin", pos_margin, f"{what} positive margin (a distance)", 0.0)
    neg = check_range(
        "loss.neg_margin",
        neg_margin,
        f"{what} negative margin (a distance: at least loss.pos_margin={pos:g})",
        1.0,
        low=pos,
        note=note,
    )
    return pos, neg


class ContrastiveLoss(PairLoss):
    """Pull positive pairs within ``pos_margin``, push negative pairs beyond ``neg_margin``.

    With a distance ``d`` (a similarity ``s`` flips each inequality)::

        L = mean_{(i,j) in P, l>0} [d_ij - pos_margin]_+
          + mean_{(i,j) in N, l>0} [neg_margin - d_ij]_+

    Each term averages over its pairs with a non-zero loss (pytorch-metric-learning's form, the
    one "A Metric Learning Reality Check" benchmarks; the 2006 paper squares the hinge).
    Pairs: all pairs of the batch, or those of ``indices_tuple`` (duplicates count).
    Shapes: ``embeddings [B, D]``, ``labels [B]`` -> scalar.

    Args:
        pos_margin: distance below which positive pairs cost nothing (default 0).
        neg_margin: distance beyond which negative pairs cost nothing (default 1).
        distance: default Euclidean on L2-normalised embeddings.
    """

    def __init__(
        self, pos_margin: float = 0.0, neg_margin: float = 1.0, distance: BaseDistance | None = None
    ) -> None:
        super().__init__(distance)
        self.pos_margin, self.neg_margin = check_margins(pos_margin, neg_margin, self.distance)

    def tuple_loss(self, mat: Tensor, indices_tuple: IndicesTuple) -> Tensor:
        a1, p, a2, n = tuples.to_pairs(indices_tuple)  # duplicates count, as in an index list
        pos_losses = F.relu(self.distance.margin(mat[a1, p], self.pos_margin))
        neg_losses = F.relu(self.distance.margin(self.neg_margin, mat[a2, n]))
        return mean_of_positive(pos_losses) + mean_of_positive(neg_losses)

    def pair_loss(self, mat: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        if pos.dtype != torch.bool or neg.dtype != torch.bool:
            return self.tuple_loss(mat, (*pos.nonzero(as_tuple=True), *neg.nonzero(as_tuple=True)))
        # every pair once: value and gradient in closed form (few passes over the [B, R] matrix)
        sign = -1.0 if self.distance.is_inverted else 1.0  # d margin(mat, m) / d mat
        with torch.no_grad():
            a, p = pos.nonzero(as_tuple=True)  # positives are few: work on their list
            pos_losses = F.relu(self.distance.margin(mat[a, p], self.pos_margin))
            pos_active = pos_losses > 0
            pos_count = pos_active.sum().clamp_min(1)
            neg_losses = self.distance.margin(self.neg_margin, mat).clamp_min_(0).mul_(neg)
            neg_count = torch.count_nonzero(neg_losses).clamp_min(1)
            value = pos_losses.sum() / pos_count + neg_losses.sum() / neg_count
            gradient = neg_losses.sign_().mul_(-sign / neg_count)  # losses >= 0: sign is 0/1
            gradient.index_put_(
                (a[pos_active], p[pos_active]),
                (sign / pos_count).to(mat.dtype).expand(int(pos_active.sum())),
                accumulate=True,
            )
        return with_gradient(mat, gradient, value)

    def extra_repr(self) -> str:
        return f"pos_margin={self.pos_margin}, neg_margin={self.neg_margin}"
