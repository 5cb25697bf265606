"""Proxy-Anchor loss (Kim, Kim, Cho & Kwak, CVPR 2020)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.losses.base import ProxyLoss, log1p_sum_exp
from metriclab.losses.ranges import check_range, positive


class ProxyAnchorLoss(ProxyLoss):
    """Each class proxy is an anchor that pulls its batch positives and pushes the rest.

    With ``s(x, p)`` the cosine similarity of embedding ``x`` and proxy ``p``::

        L = 1/|P+| sum_{p in P+} log(1 + sum_{x in X_p+} exp(-alpha (s(x,p) - margin)))
          + 1/|P|  sum_{p in P}  log(1 + sum_{x in X_p-} exp( alpha (s(x,p) + margin)))

    ``P+``: proxies with a positive in the batch; ``P``: all ``num_classes`` proxies.
    Shapes: ``embeddings [B, D]``, ``labels [B]`` (in ``0..C-1``) -> scalar;
    ``proxies [C, D]``, initialised ``kaiming_normal_(mode="fan_out")`` like the authors' code.

    Args:
        num_classes, embedding_size: filled in by the pipeline (training classes, head width).
        margin: the paper's ``delta`` = 0.1.
        alpha: the paper's scale 32.
        lr_multiplier: proxies train at ``lr * lr_multiplier`` (paper: 100).
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        margin: float = 0.1,
        alpha: float = 32.0,
        lr_multiplier: float = 100.0,
    ) -> None:
        super().__init__(num_classes, embedding_size, lr_multiplier)
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")
        paper = "Kim et al. 2020 use δ = 0.1, α = 32"
        self.margin = check_range(
            "loss.margin",
            margin,
            "the Proxy-Anchor margin δ (on cosines)",
            0.1,
            low=0.0,
            high=1.0,
            high_open=True,
            note=paper,
        )
        self.alpha = positive("loss.alpha", alpha, "the Proxy-Anchor scale α", 32, paper)

    def proxy_loss(self, embeddings: Tensor, labels: Tensor, proxies: Tensor) -> Tensor:
        cos = self.cosine_to_proxies(embeddings, proxies)  # [B, C]
        pos = F.one_hot(labels, self.num_classes).bool()
        pos_term = log1p_sum_exp(-self.alpha * (cos - self.margin), pos, dim=0)  # [C]
        neg_term = log1p_sum_exp(self.alpha * (cos + self.margin), ~pos, dim=0)
        with_pos = pos.any(0).sum().clamp_min(1)
        return pos_term.sum() / with_pos + neg_term.sum() / self.num_classes

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, margin={self.margin}, alpha={self.alpha}"
