"""Circle loss (Sun et al., CVPR 2020), per-anchor form with pair-wise labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from metriclab.distances import BaseDistance, CosineSimilarity
from metriclab.errors import ConfigError
from metriclab.losses.base import PairLoss, as_mask, masked_logsumexp, mean_of_positive
from metriclab.losses.ranges import check_range, positive


class CircleLoss(PairLoss):
    """Re-weights each similarity by its distance from its optimum.

    For anchor ``i`` with positive similarities ``s_p`` and negative ``s_n``::

        L_i = softplus( logsumexp_{p} -gamma a_p (s_p - D_p) + logsumexp_{n} gamma a_n (s_n - D_n) )
        a_p = [1 + m - s_p]_+ ,  a_n = [s_n + m]_+   (constants: no gradient, as in the paper)
        D_p = 1 - m ,  D_n = m

    ``L`` is the mean of ``L_i`` over anchors with at least one positive and one negative (and a
    non-zero loss: pytorch-metric-learning's reduction). Shapes: ``[B, D], [B] -> scalar``.

    Args:
        m: relaxation margin (paper, fine-grained retrieval: 0.4; faces: 0.25).
        gamma: scale (paper, fine-grained retrieval: 80; faces: 256).
        distance: a similarity (``is_inverted``), default cosine.
    """

    def __init__(
        self, m: float = 0.4, gamma: float = 80.0, distance: BaseDistance | None = None
    ) -> None:
        super().__init__(CosineSimilarity() if distance is None else distance)
        if not self.distance.is_inverted:
            raise ConfigError(
                f"CircleLoss needs a similarity (cosine or dot product), got "
                f"{type(self.distance).__name__}; use loss/distance=cosine"
            )
        self.m = check_range(
            "loss.m",
            m,
            "the Circle loss relaxation margin m",
            0.4,
            low=0.0,
            high=0.5,
            high_open=True,
            note="the optima 1 - m for positives and m for negatives cross at 0.5; "
            "Sun et al. 2020 use 0.25 for faces, 0.4 for fine-grained retrieval",
        )
        self.gamma = positive(
            "loss.gamma",
            gamma,
            "the Circle loss scale γ",
            80,
            "Sun et al. 2020 use 80 for fine-grained retrieval, 256 for faces",
        )

    def pair_loss(self, mat: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        pos, neg = as_mask(pos), as_mask(neg)
        sim = mat.detach()
        alpha_p = F.relu(1.0 + self.m - sim)
        alpha_n = F.relu(sim + self.m)
        logit_p = -self.gamma * alpha_p * (mat - (1.0 - self.m))
        logit_n = self.gamma * alpha_n * (mat - self.m)
        per_anchor = F.softplus(
            masked_logsumexp(logit_p, pos, 1) + masked_logsumexp(logit_n, neg, 1)
        )
        valid = pos.any(1) & neg.any(1)
        return mean_of_positive(torch.where(valid, per_anchor, torch.zeros_like(per_anchor)))

    def extra_repr(self) -> str:
        return f"m={self.m}, gamma={self.gamma}"
