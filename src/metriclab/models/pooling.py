"""Global pooling of a backbone's feature map ``[B, C, h, w]`` into one vector ``[B, C]``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

POOLINGS = ("avg", "max", "gem", "avgmax")


class GeneralizedMeanPooling(nn.Module):
    """GeM pooling (Radenovic et al. 2018): ``(mean_{h,w} x^p)^(1/p)`` per channel.

    ``p = 1`` is average pooling and ``p -> inf`` tends to max pooling; the paper's retrieval
    default is ``p = 3``. Here ``p`` is a fixed hyper-parameter (not learned). Activations are
    clamped to ``eps`` first, since a fractional power of a negative number is undefined; feed it
    post-ReLU maps (ResNet, EfficientNet, SmallCNN) for the behaviour the paper describes.

    Shapes: ``[B, C, h, w] -> [B, C]``.
    """

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        if p <= 0:
            raise ValueError(f"GeM pooling needs p > 0, got gem_p={p}")
        self.p = float(p)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``[B, C, h, w]`` to ``[B, C]``."""
        pooled = x.clamp(min=self.eps).pow(self.p).mean(dim=(-2, -1))
        return pooled.pow(1.0 / self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, eps={self.eps}"


class GlobalPooling(nn.Module):
    """Global ``avg``, ``max``, ``gem`` or ``avgmax`` (avg + max, summed) pooling.

    A 2-D input ``[B, C]`` (a backbone without a spatial map, e.g. a ViT class token) passes
    through unchanged; a 4-D input ``[B, C, h, w]`` is pooled over ``h, w`` to ``[B, C]``.
    """

    def __init__(self, kind: str = "avg", gem_p: float = 3.0) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(
                f"Unknown pooling {kind!r}; choose one of {', '.join(POOLINGS)} "
                "(e.g. head.pooling=gem)"
            )
        self.kind = kind
        self.gem = GeneralizedMeanPooling(gem_p) if kind == "gem" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``[B, C, h, w]`` to ``[B, C]``; return ``[B, C]`` as is."""
        if x.dim() == 2:
            return x
        if x.dim() != 4:
            raise ValueError(
                f"GlobalPooling expects [B, C, h, w] or [B, C], got shape {tuple(x.shape)}"
            )
        if self.gem is not None:
            return self.gem(x)
        avg = F.adaptive_avg_pool2d(x, 1).flatten(1)
        if self.kind == "avg":
            return avg
        peak = F.adaptive_max_pool2d(x, 1).flatten(1)
        return peak if self.kind == "max" else avg + peak

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
