"""NormSoftmax (Zhai & Wu, "Classification is a Strong Baseline for Deep Metric Learning", 2019)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.losses.base import ProxyLoss
from metriclab.losses.ranges import positive


class NormSoftmaxLoss(ProxyLoss):
    """Softmax cross-entropy on temperature-scaled cosines of embeddings and class weights.

    ``L = CE( cos(x, W_j) / temperature, y )``: both the embedding and the class weights are
    L2-normalised, as in the paper (pytorch-metric-learning's ``NormalizedSoftmaxLoss``
    normalises only the weights unless given a cosine distance). Shapes:
    ``[B, D], [B] -> scalar``; class weights ``proxies [C, D]`` initialised ``N(0, 1)``.

    Args:
        num_classes, embedding_size: filled in by the pipeline.
        temperature: the paper's 0.05.
        lr_multiplier: class weights train at ``lr * lr_multiplier``.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        temperature: float = 0.05,
        lr_multiplier: float = 1.0,
    ) -> None:
        super().__init__(num_classes, embedding_size, lr_multiplier)
        nn.init.normal_(self.proxies)
        self.temperature = positive(
            "loss.temperature",
            temperature,
            "the NormSoftmax temperature (logits = cosine / temperature)",
            0.05,
            "Zhai & Wu 2019 use 0.05",
        )

    def proxy_loss(self, embeddings: Tensor, labels: Tensor, proxies: Tensor) -> Tensor:
        logits = self.cosine_to_proxies(embeddings, proxies) / self.temperature
        return F.cross_entropy(logits, labels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, temperature={self.temperature}"
