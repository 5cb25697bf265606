"""Proxy-NCA loss (Movshovitz-Attias, Toshev, Leung, Ioffe & Singh, ICCV 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.distances import BaseDistance, EuclideanDistance
from metriclab.errors import ConfigError
from metriclab.losses.base import ProxyLoss
from metriclab.losses.ranges import positive


class ProxyNCALoss(ProxyLoss):
    """NCA of each embedding against one learnable proxy per class.

    With ``d`` the distance of embedding ``x`` (class ``y``) to proxy ``p_z`` and
    ``t = softmax_scale``, the paper's loss excludes the positive from the denominator::

        L = mean_x -log( exp(-t d(x, p_y)) / sum_{z != y} exp(-t d(x, p_z)) )

    With ``exclude_positive=False`` the denominator runs over all proxies (a softmax
    cross-entropy; pytorch-metric-learning's ``ProxyNCALoss``, and Proxy-NCA++).
    Shapes: ``[B, D], [B] -> scalar``; ``proxies [C, D]`` initialised ``N(0, 1)``.

    Args:
        num_classes, embedding_size: filled in by the pipeline.
        softmax_scale: ``t`` (paper: 1).
        exclude_positive: the paper's denominator (default) or a plain softmax.
        distance: default squared Euclidean of L2-normalised vectors, as in the paper.
        lr_multiplier: proxies train at ``lr * lr_multiplier`` (100, as the Proxy-Anchor
            authors train every proxy loss).
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        softmax_scale: float = 1.0,
        exclude_positive: bool = True,
        distance: BaseDistance | None = None,
        lr_multiplier: float = 100.0,
    ) -> None:
        super().__init__(num_classes, embedding_size, lr_multiplier)
        if exclude_positive and num_classes < 2:
            raise ConfigError(
                f"loss.exclude_positive=true: Proxy-NCA's denominator (the other classes' "
                f"proxies) is empty with {num_classes} training class; train on at least 2 "
                "classes or set loss.exclude_positive=false"
            )
        nn.init.normal_(self.proxies)
        self.softmax_scale = positive(
            "loss.softmax_scale",
            softmax_scale,
            "the Proxy-NCA softmax scale t (multiplies -distance)",
            1.0,
            "Movshovitz-Attias et al. 2017 use 1",
        )
        self.exclude_positive = bool(exclude_positive)
        self.distance = EuclideanDistance(squared=True) if distance is None else distance

    def proxy_loss(self, embeddings: Tensor, labels: Tensor, proxies: Tensor) -> Tensor:
        logits = -self.softmax_scale * self.distance.as_distance(self.distance(embeddings, proxies))
        if not self.exclude_positive:
            return F.cross_entropy(logits, labels)
        positive = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
        others = logits.scatter(1, labels.unsqueeze(1), -torch.inf)
        return (torch.logsumexp(others, dim=1) - positive).mean()

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, softmax_scale={self.softmax_scale}, "
            f"exclude_positive={self.exclude_positive}"
        )
