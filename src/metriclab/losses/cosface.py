"""CosFace: large margin cosine loss (Wang et al., CVPR 2018)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.losses.base import ProxyLoss


class CosFaceLoss(ProxyLoss):
    """Softmax cross-entropy on scaled cosines, the target's cosine lowered by ``margin``.

    ``L = CE( scale * (cos t_j - margin [j = y]), y )`` with ``cos t_j`` the cosine of the
    embedding and class weight ``W_j``. Shapes: ``[B, D], [B] -> scalar``; class weights
    ``proxies [C, D]`` initialised ``N(0, 1)``.

    Args:
        num_classes, embedding_size: filled in by the pipeline.
        margin: the paper's ``m`` = 0.35.
        scale: the paper's ``s`` = 64.
        lr_multiplier: class weights train at ``lr * lr_multiplier``.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        margin: float = 0.35,
        scale: float = 64.0,
        lr_multiplier: float = 1.0,
    ) -> None:
        super().__init__(num_classes, embedding_size, lr_multiplier)
        nn.init.normal_(self.proxies)
        self.margin = float(margin)
        self.scale = float(scale)

    def proxy_loss(self, embeddings: Tensor, labels: Tensor, proxies: Tensor) -> Tensor:
        cos = self.cosine_to_proxies(embeddings, proxies)
        target = labels.unsqueeze(1)
        logits = cos.scatter_add(1, target, cos.new_full(target.shape, -self.margin))
        return F.cross_entropy(logits * self.scale, labels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin}, scale={self.scale}"
