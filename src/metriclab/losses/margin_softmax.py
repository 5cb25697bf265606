"""What ArcFace and CosFace share: softmax cross-entropy on scaled cosines to class weights, with
the target class's logit penalised by a margin."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.losses.base import ProxyLoss
from metriclab.losses.ranges import non_negative, positive


class MarginSoftmaxLoss(ProxyLoss):
    """``L = CE( scale * [cos t_j (j != y),  target_logit(cos t_y) (j = y)], y )``.

    ``cos t_j`` is the cosine of the embedding and class weight ``W_j`` (both normalised);
    subclasses define :meth:`target_logit`, the margin-penalised target cosine.
    Shapes: ``[B, D], [B] -> scalar``; class weights ``proxies [C, D]`` initialised ``N(0, 1)``.

    Args:
        num_classes, embedding_size: filled in by the pipeline.
        margin: the margin; ``None`` takes the paper's (:attr:`PAPER_MARGIN`).
        scale: the papers' ``s`` = 64.
        lr_multiplier: class weights train at ``lr * lr_multiplier``.
    """

    PAPER_MARGIN: float = 0.0
    #: The paper's name and its margin's meaning and valid range, for the one-line refusal.
    PAPER: str = "the paper"

    def check_margin(self, margin: float) -> float:
        """``margin`` if valid for this loss, else a ConfigError (subclasses set the range)."""
        return non_negative("loss.margin", margin, f"the {self.PAPER} margin", self.PAPER_MARGIN)

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        margin: float | None = None,
        scale: float = 64.0,
        lr_multiplier: float = 1.0,
    ) -> None:
        super().__init__(num_classes, embedding_size, lr_multiplier)
        nn.init.normal_(self.proxies)
        self.margin = self.check_margin(self.PAPER_MARGIN if margin is None else margin)
        self.scale = positive(
            "loss.scale", scale, f"the {self.PAPER} logit scale s", 64, "the papers use 64"
        )

    def target_logit(self, cos_target: Tensor) -> Tensor:
        """The target class's cosine ``[B, 1]`` with the margin applied, ``[B, 1]``."""
        raise NotImplementedError

    def proxy_loss(self, embeddings: Tensor, labels: Tensor, proxies: Tensor) -> Tensor:
        cos = self.cosine_to_proxies(embeddings, proxies)
        target = labels.unsqueeze(1)
        logits = cos.scatter(1, target, self.target_logit(cos.gather(1, target)))
        return F.cross_entropy(logits * self.scale, labels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin}, scale={self.scale}"
