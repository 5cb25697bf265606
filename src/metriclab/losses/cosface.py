"""CosFace: large margin cosine loss (Wang et al., CVPR 2018)."""

from __future__ import annotations

from torch import Tensor

from metriclab.losses.margin_softmax import MarginSoftmaxLoss
from metriclab.losses.ranges import check_range


class CosFaceLoss(MarginSoftmaxLoss):
    """Softmax cross-entropy on scaled cosines, the target's cosine lowered by ``margin``.

    ``L = CE( scale * (cos t_j - margin [j = y]), y )`` with ``cos t_j`` the cosine of the
    embedding and class weight ``W_j``. Shapes: ``[B, D], [B] -> scalar``; class weights
    ``proxies [C, D]`` initialised ``N(0, 1)``.

    Args:
        num_classes, embedding_size: filled in by the pipeline.
        margin: the paper's ``m`` = 0.35 (also what ``None`` gives).
        scale: the paper's ``s`` = 64.
        lr_multiplier: class weights train at ``lr * lr_multiplier``.
    """

    PAPER_MARGIN = 0.35
    PAPER = "CosFace"

    def check_margin(self, margin: float) -> float:
        return check_range(
            "loss.margin",
            margin,
            "the CosFace cosine margin m",
            0.35,
            low=0.0,
            high=1.0,
            high_open=True,
            note="a cosine lies in [-1, 1]; Wang et al. 2018 use 0.35",
        )

    def target_logit(self, cos_target: Tensor) -> Tensor:
        return cos_target - self.margin
