"""ArcFace: additive angular margin loss (Deng, Guo, Xue & Zafeiriou, CVPR 2019)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from metriclab.losses.margin_softmax import MarginSoftmaxLoss
from metriclab.losses.ranges import check_range


class ArcFaceLoss(MarginSoftmaxLoss):
    """Softmax cross-entropy on scaled cosines, the target's angle widened by ``margin``.

    With ``cos t_j`` the cosine of embedding and class weight ``W_j`` (both normalised)::

        L = CE( scale * [cos t_j (j != y),  phi(t_y) (j = y)], y )
        phi(t) = cos(t + margin)            if t <= pi - margin
               = cos t - margin sin(margin)  otherwise (keeps phi decreasing in t)

    Shapes: ``[B, D], [B] -> scalar``; class weights ``proxies [C, D]`` initialised ``N(0, 1)``.

    Args:
        num_classes, embedding_size: filled in by the pipeline.
        margin: additive angular margin in **radians** (paper, and ``None``: 0.5;
            pytorch-metric-learning takes degrees, 28.6).
        scale: the paper's ``s`` = 64.
        lr_multiplier: class weights train at ``lr * lr_multiplier``.
    """

    PAPER_MARGIN = 0.5
    PAPER = "ArcFace"

    def check_margin(self, margin: float) -> float:
        return check_range(
            "loss.margin",
            margin,
            "the ArcFace additive angular margin (radians)",
            0.5,
            low=0.0,
            high=math.pi / 2,
            high_open=True,
            note="Deng et al. 2019 use 0.5 rad; 28.6 degrees is 0.5 rad",
        )

    def target_logit(self, cos_target: Tensor) -> Tensor:
        cos_t = cos_target.clamp(-1.0, 1.0)
        sin_t = (1.0 - cos_t * cos_t).clamp_min(0.0).sqrt()
        widened = cos_t * math.cos(self.margin) - sin_t * math.sin(self.margin)
        fallback = cos_t - self.margin * math.sin(self.margin)
        return torch.where(cos_t >= math.cos(math.pi - self.margin), widened, fallback)
