"""Multi-Similarity loss (Wang, Han, Huang, Dong & Scott, CVPR 2019)."""

from __future__ import annotations

from torch import Tensor

from metriclab.distances import BaseDistance, CosineSimilarity
from metriclab.losses.base import PairLoss, as_mask, log1p_sum_exp
from metriclab.losses.ranges import check_range, positive


class MultiSimilarityLoss(PairLoss):
    """Soft-weights every pair by its own and its relative similarity.

    With similarities ``S`` (cosine by default)::

        L = 1/B sum_i [ 1/alpha log(1 + sum_{k in P_i} exp(-alpha (S_ik - base)))
                      + 1/beta  log(1 + sum_{k in N_i} exp( beta (S_ik - base))) ]

    ``P_i`` / ``N_i``: the positives / negatives of anchor ``i`` (all, or those of
    ``indices_tuple``, e.g. from the multi-similarity miner, which is the paper's mining step).
    The mean runs over all ``B`` anchors. Shapes: ``[B, D], [B] -> scalar``.

    Args:
        alpha: positive-pair scale (paper: 2).
        beta: negative-pair scale (paper: 50).
        base: the similarity margin ``lambda`` (0.5, the authors' released code).
        distance: default cosine similarity (for a distance the signs flip).
    """

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 0.5,
        distance: BaseDistance | None = None,
    ) -> None:
        super().__init__(CosineSimilarity() if distance is None else distance)
        paper = "Wang et al. 2019 use α = 2, β = 50"
        self.alpha = positive(
            "loss.alpha", alpha, "the multi-similarity positive scale α", 2, paper
        )
        self.beta = positive("loss.beta", beta, "the multi-similarity negative scale β", 50, paper)
        bounded = isinstance(self.distance, CosineSimilarity)  # a cosine lies in [-1, 1]
        self.base = check_range(
            "loss.base",
            base,
            "the multi-similarity margin λ" + (" (a cosine)" if bounded else ""),
            0.5,
            low=-1.0 if bounded else None,
            high=1.0 if bounded else None,
            note="the authors' code uses 0.5",
        )

    def pair_loss(self, mat: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        pos_term = log1p_sum_exp(self.alpha * self.distance.margin(mat, self.base), as_mask(pos), 1)
        neg_term = log1p_sum_exp(self.beta * self.distance.margin(self.base, mat), as_mask(neg), 1)
        return (pos_term / self.alpha + neg_term / self.beta).mean()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, base={self.base}"
