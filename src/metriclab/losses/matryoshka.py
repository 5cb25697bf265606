"""Matryoshka representation learning (Kusupati et al., NeurIPS 2022) for any metric loss."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.errors import ConfigError
from metriclab.losses.base import complete_loss
from metriclab.losses.ranges import inner_loss_keys
from metriclab.tuples import IndicesTuple


def prefix_dims(dims: Sequence[int] | None, embedding_size: int) -> list[int]:
    """``dims`` checked (increasing, ``1..embedding_size``), with ``embedding_size`` appended
    when missing: the full embedding always trains. ``None``: ``embedding_size`` halved four
    times (512 -> ``[32, 64, 128, 256, 512]``, 128 -> ``[8, 16, 32, 64, 128]``)."""
    if dims is None:
        return sorted({max(1, embedding_size >> k) for k in range(5)})
    dims = [int(d) for d in dims]
    if not dims or dims != sorted(set(dims)) or dims[0] < 1 or dims[-1] > embedding_size:
        raise ConfigError(
            f"loss.dims={dims}: the Matryoshka prefix sizes must increase and lie between 1 and "
            f"the embedding's {embedding_size} (head.embedding_size), e.g. "
            f"[{embedding_size // 4}, {embedding_size // 2}]; set loss.dims=null ("
            f"{embedding_size} halved four times)"
        )
    return dims if dims[-1] == embedding_size else [*dims, embedding_size]


def _weight(value: object) -> float:
    """``value`` as a float; NaN (refused) for anything else or for a non-finite number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


class MatryoshkaLoss(nn.Module):
    """``L = sum_i w_i * metric_i(normalize(x[:, :d_i]), labels)`` over nested prefixes ``d_i``.

    Each prefix of the embedding is trained to be an embedding of its own, so one model serves
    every size in ``dims`` (truncate, re-normalise). ``metric`` is any loss of this package or a
    factory of one (a Hydra ``_partial_``); a loss with parameters (proxies, a classifier) gets one
    copy per prefix, sized ``embedding_size=d_i``. A mined ``indices_tuple`` (from the full
    embedding) indexes the same batch for every prefix. Shapes: ``[B, D], [B] -> scalar``.

    Args:
        metric: the loss applied to each prefix (``loss@loss.metric=NAME``).
        num_classes, embedding_size: filled in by the pipeline (training classes, head width).
        dims: the prefix sizes ``d_i`` (the full ``embedding_size`` is added when missing);
            ``None``: ``embedding_size`` halved four times, ``[D/16, D/8, D/4, D/2, D]``.
        weights: ``w_i``, one per prefix (default: all 1, the paper's choice).
        normalize: L2-normalise each prefix before its loss (for losses on the unit sphere:
            default, the wrapped loss's ``normalized_embeddings``).
    """

    def __init__(
        self,
        metric: nn.Module | Callable[..., nn.Module],
        num_classes: int,
        embedding_size: int,
        dims: Sequence[int] | None = None,
        weights: Sequence[float] | None = None,
        normalize: bool | None = None,
    ) -> None:
        super().__init__()
        self.dims = prefix_dims(dims, int(embedding_size))
        weights = [1.0] * len(self.dims) if weights is None else list(weights)
        numbers = [_weight(w) for w in weights]
        if not all(w >= 0 for w in numbers) or not any(w > 0 for w in numbers):
            raise ConfigError(
                f"loss.weights={weights}: the Matryoshka prefix weights w_i must be >= 0 with "
                "at least one > 0 (Kusupati et al. 2022 weight every prefix 1); set "
                "loss.weights=null (all 1)"
            )
        weights = numbers
        if len(weights) != len(self.dims):
            raise ConfigError(
                f"loss.weights has {len(weights)} value(s) for the {len(self.dims)} prefixes "
                f"{self.dims}; give one weight per prefix or none"
            )
        self.weights = weights
        losses = []
        for d in self.dims:
            if isinstance(metric, nn.Module):
                losses.append(copy.deepcopy(metric) if losses else metric)
            else:
                with inner_loss_keys():
                    losses.append(complete_loss(metric, num_classes=num_classes, embedding_size=d))
        self.losses = nn.ModuleList(losses)
        inner = self.losses[0]
        self.accepts_miner = bool(getattr(inner, "accepts_miner", True))
        self.needs_positive_pairs = bool(getattr(inner, "needs_positive_pairs", False))
        self.lr_multiplier = float(getattr(inner, "lr_multiplier", 1.0))
        if normalize is None:
            normalize = bool(getattr(inner, "normalized_embeddings", True))
        self.normalize = bool(normalize)

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: IndicesTuple | None = None
    ) -> Tensor:
        if embeddings.shape[1] != self.dims[-1]:
            raise ValueError(
                f"MatryoshkaLoss was built for {self.dims[-1]}-d embeddings, got "
                f"{embeddings.shape[1]}-d"
            )
        total = embeddings.new_zeros(())
        for d, weight, loss in zip(self.dims, self.weights, self.losses, strict=True):
            prefix = embeddings[:, :d]
            if self.normalize:
                prefix = F.normalize(prefix, dim=1)
            args = (prefix, labels) if indices_tuple is None else (prefix, labels, indices_tuple)
            total = total + weight * loss(*args)
        return total

    def extra_repr(self) -> str:
        return f"dims={self.dims}, weights={self.weights}, normalize={self.normalize}"
