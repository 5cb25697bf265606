"""What ArcFace and CosFace share: softmax cross-entropy on scaled cosines to class weights, with
the target class's logit penalised by a margin."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.losses.base import ProxyLoss


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
        self.margin = float(self.PAPER_MARGIN if margin is None else margin)
        self.scale = float(scale)

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
