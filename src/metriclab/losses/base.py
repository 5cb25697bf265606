"""What every loss shares: fp32 computation, zero losses that keep the graph, masked log-sum-exp.

:class:`PairLoss` is the base of the losses computed from a ``[B, R]`` distance matrix and pair
weights (contrastive, triplet, multi-similarity, circle); the cross-batch memory wrapper feeds
them a memory as reference set. :class:`ProxyLoss` is the base of the losses with learnable
class vectors (``proxies [C, D]``), which refuse miners.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

from metriclab import tuples
from metriclab.distances import BaseDistance, EuclideanDistance
from metriclab.distances.base import l2_normalize
from metriclab.losses.ranges import at_least, non_negative
from metriclab.tuples import IndicesTuple


@contextlib.contextmanager
def full_precision(tensor: Tensor) -> Iterator[None]:
    """Switch autocast off on ``tensor``'s device: the body runs in the dtypes it is given."""
    with torch.autocast(device_type=tensor.device.type, enabled=False):
        yield


def zero_loss(like: Tensor) -> Tensor:
    """A scalar 0 that still back-propagates (zero gradients) to ``like``."""
    return like.sum() * 0.0


def log1p_sum_exp(x: Tensor, mask: Tensor, dim: int) -> Tensor:
    """``log(1 + sum_{mask} exp(x))`` along ``dim``, stable; 0 where ``mask`` is empty.

    Masked-out entries get no gradient and never overflow.
    """
    x = x.masked_fill(~mask, -math.inf)
    shift = x.amax(dim=dim, keepdim=True).clamp_min(0.0).detach()
    total = torch.exp(x - shift).sum(dim=dim, keepdim=True) + torch.exp(-shift)
    return (shift + torch.log(total)).squeeze(dim)


def masked_logsumexp(x: Tensor, mask: Tensor, dim: int) -> Tensor:
    """``log(sum_{mask} exp(x))`` along ``dim``; a large finite negative where ``mask`` is empty."""
    x = x.masked_fill(~mask, -math.inf)
    shift = x.amax(dim=dim, keepdim=True)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift)).detach()
    total = torch.exp(x - shift).sum(dim=dim, keepdim=True)
    return (shift + torch.log(total.clamp_min(torch.finfo(x.dtype).tiny))).squeeze(dim)


def as_mask(weights: Tensor) -> Tensor:
    """A bool mask of the pairs present in ``weights`` (bool mask or float counts)."""
    return weights if weights.dtype == torch.bool else weights > 0


class _PrecomputedGradient(torch.autograd.Function):
    """``value`` in the forward pass; ``grad_output * gradient`` for ``mat`` in the backward."""

    @staticmethod
    def forward(ctx, mat: Tensor, gradient: Tensor, value: Tensor) -> Tensor:  # noqa: ARG004
        ctx.save_for_backward(gradient)
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None, None]:
        (gradient,) = ctx.saved_tensors
        return gradient * grad_output, None, None


def with_gradient(mat: Tensor, gradient: Tensor, value: Tensor) -> Tensor:
    """A scalar equal to ``value`` whose gradient with respect to ``mat`` is ``gradient``.

    For losses whose gradient has a closed form cheaper than autograd's chain of ops.
    """
    return _PrecomputedGradient.apply(mat, gradient.detach(), value.detach())


def mean_of_positive(losses: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean of the strictly positive entries of ``losses`` (each counted ``weights`` times).

    pytorch-metric-learning's ``AvgNonZeroReducer``; 0 (with a graph) when none is positive.
    """
    if weights is None:
        return losses.sum() / (losses > 0).sum().clamp_min(1)
    count = (weights * (losses > 0)).sum().clamp_min(1)
    return (losses * weights).sum() / count


def complete_loss(loss: nn.Module | Callable[..., nn.Module], **available: int) -> nn.Module:
    """``loss`` itself, or, for a factory (a Hydra ``_partial_``), the loss it builds.

    The factory receives those of ``available`` (``num_classes``, ``embedding_size``) that its
    signature accepts, so a wrapper can complete a proxy loss it wraps.
    """
    if isinstance(loss, nn.Module):
        return loss
    if not callable(loss):
        raise ValueError(f"expected a loss module or a loss factory; got {type(loss).__name__}")
    accepted = inspect.signature(loss).parameters
    built = loss(**{k: v for k, v in available.items() if k in accepted})
    if not isinstance(built, nn.Module):
        raise ValueError(f"the loss factory built a {type(built).__name__}, not a torch Module")
    return built


class PairLoss(nn.Module):
    """Base of losses on a ``[B, R]`` distance matrix with positive/negative pair weights.

    ``forward(embeddings [B, D], labels [B], indices_tuple=None, ref_emb=None, ref_labels=None)``.
    ``indices_tuple`` (from a miner) restricts the pairs; without it every pair counts.
    ``ref_emb [R, D]`` / ``ref_labels [R]`` replace the batch as the other side of each pair
    (indices then point into the reference set). Computed in fp32 with autocast off.
    Subclasses implement :meth:`pair_loss` (and may override :meth:`triplet_loss`).
    """

    accepts_miner = True
    #: The loss is 0 on a batch without a positive pair (``sampler.m=1`` is refused with it).
    needs_positive_pairs = True

    def __init__(self, distance: BaseDistance | None = None) -> None:
        super().__init__()
        self.distance = EuclideanDistance() if distance is None else distance

    def forward(
        self,
        embeddings: Tensor,
        labels: Tensor,
        indices_tuple: IndicesTuple | None = None,
        ref_emb: Tensor | None = None,
        ref_labels: Tensor | None = None,
    ) -> Tensor:
        if (ref_emb is None) != (ref_labels is None):
            raise ValueError("ref_emb and ref_labels must be given together")
        if len(embeddings) != len(labels):
            raise ValueError(f"{len(embeddings)} embeddings but {len(labels)} labels")
        labels = labels.to(embeddings.device)
        with full_precision(embeddings):
            emb = embeddings.float()
            ref = None if ref_emb is None else ref_emb.to(emb.device).float()
            ref_labels = None if ref_labels is None else ref_labels.to(emb.device)
            mat = self.distance(emb, ref)
            if indices_tuple is None:
                return self.pair_loss(mat, *tuples.all_pairs_masks(labels, ref_labels))
            tuples.check_indices_tuple(indices_tuple)
            return self.tuple_loss(mat, tuple(t.long() for t in indices_tuple))

    def pair_loss(self, mat: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
        """The loss from ``mat [B, R]`` and its pairs ``pos, neg [B, R]``.

        ``pos``/``neg`` are bool masks (each pair once) or float counts (mined duplicates).
        """
        raise NotImplementedError

    def tuple_loss(self, mat: Tensor, indices_tuple: IndicesTuple) -> Tensor:
        """The loss on mined pairs or triplets; by default via their pair counts."""
        return self.pair_loss(mat, *tuples.pair_counts(indices_tuple, *mat.shape))


class ProxyLoss(nn.Module):
    """Base of losses with a learnable vector per class, ``proxies [num_classes, embedding_size]``.

    They compare each embedding with every class vector, so they take no miner
    (``accepts_miner = False``; an ``indices_tuple`` raises ``ValueError``). The pipeline trains
    ``proxies`` in their own optimizer group at ``lr * lr_multiplier``.
    """

    accepts_miner = False
    #: Each embedding meets every class proxy: one item per class in a batch trains it.
    needs_positive_pairs = False

    def __init__(self, num_classes: int, embedding_size: int, lr_multiplier: float = 1.0) -> None:
        super().__init__()
        self.num_classes = at_least(
            "loss.num_classes", num_classes, 1, "the number of class proxies", "<training classes>"
        )
        self.embedding_size = at_least(
            "loss.embedding_size", embedding_size, 1, "the proxy size", "<head.embedding_size>"
        )
        self.lr_multiplier = non_negative(
            "loss.lr_multiplier",
            lr_multiplier,
            "the proxies' learning-rate multiplier",
            100,
            "0 freezes them; Kim et al. 2020 train proxies at 100x the learning rate",
        )
        self.proxies = nn.Parameter(torch.empty(self.num_classes, self.embedding_size))

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: IndicesTuple | None = None
    ) -> Tensor:
        if indices_tuple is not None:
            raise ValueError(
                f"{type(self).__name__} compares each embedding with every class proxy and takes "
                "no miner; use miner=none with this loss"
            )
        if embeddings.ndim != 2 or embeddings.shape[1] != self.embedding_size:
            raise ValueError(
                f"{type(self).__name__} expects embeddings [B, {self.embedding_size}]; got "
                f"{tuple(embeddings.shape)} (embedding_size must match the head)"
            )
        labels = labels.to(embeddings.device).long()
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"{type(self).__name__} has {self.num_classes} classes but got label "
                f"{int(labels.max())}; labels must lie in 0..num_classes-1"
            )
        with full_precision(embeddings):
            return self.proxy_loss(embeddings.float(), labels, self.proxies.float())

    def proxy_loss(self, embeddings: Tensor, labels: Tensor, proxies: Tensor) -> Tensor:
        """The loss from fp32 ``embeddings [B, D]``, ``labels [B]`` and ``proxies [C, D]``."""
        raise NotImplementedError

    def cosine_to_proxies(self, embeddings: Tensor, proxies: Tensor) -> Tensor:
        """``[B, C]`` cosine similarities of embeddings and proxies."""
        return l2_normalize(embeddings) @ l2_normalize(proxies).t()

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, embedding_size={self.embedding_size}, "
            f"lr_multiplier={self.lr_multiplier}"
        )
