"""ArcFace: additive angular margin loss (Deng, Guo, Xue & Zafeiriou, CVPR 2019)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.losses.base import ProxyLoss


class ArcFaceLoss(ProxyLoss):
    """Softmax cross-entropy on scaled cosines, the target's angle widened by ``margin``.

    With ``cos t_j`` the cosine of embedding and class weight ``W_j`` (both normalised)::

        L = CE( scale * [cos t_j (j != y),  phi(t_y) (j = y)], y )
        phi(t) = cos(t + margin)            if t <= pi - margin
               = cos t - margin sin(margin)  otherwise (keeps phi decreasing in t)

    Shapes: ``[B, D], [B] -> scalar``; class weights ``proxies [C, D]`` initialised ``N(0, 1)``.

    Args:
        num_classes, embedding_size: filled in by the pipeline.
        margin: additive angular margin in **radians** (paper: 0.5; pytorch-metric-learning
            takes degrees, 28.6).
        scale: the paper's ``s`` = 64.
        lr_multiplier: class weights train at ``lr * lr_multiplier``.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        margin: float = 0.5,
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
        cos_t = cos.gather(1, target).clamp(-1.0, 1.0)
        sin_t = (1.0 - cos_t * cos_t).clamp_min(0.0).sqrt()
        widened = cos_t * math.cos(self.margin) - sin_t * math.sin(self.margin)
        fallback = cos_t - self.margin * math.sin(self.margin)
        phi = torch.where(cos_t >= math.cos(math.pi - self.margin), widened, fallback)
        logits = cos.scatter(1, target, phi) * self.scale
        return F.cross_entropy(logits, labels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin}, scale={self.scale}"
