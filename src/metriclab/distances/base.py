"""The base of every distance: an ``[N, M]`` matrix between query and reference embeddings."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BaseDistance(nn.Module):
    """A pairwise distance or similarity between two sets of embeddings.

    ``forward(query [N, D], ref [M, D] | None) -> [N, M]``; ``ref=None`` compares ``query`` with
    itself. Subclasses implement :meth:`compute_mat` and set ``is_inverted``: ``True`` for a
    similarity (larger means closer: cosine, dot product), ``False`` for a distance.

    Args:
        normalize_embeddings: L2-normalise both inputs first (``F.normalize``, eps 1e-12).
    """

    is_inverted: bool = False

    def __init__(self, normalize_embeddings: bool = True) -> None:
        super().__init__()
        self.normalize_embeddings = normalize_embeddings

    def forward(self, query: Tensor, ref: Tensor | None = None) -> Tensor:
        if query.ndim != 2 or (ref is not None and ref.ndim != 2):
            raise ValueError(
                f"embeddings must be 2-D [batch, dim]; got {tuple(query.shape)}"
                + ("" if ref is None else f" and {tuple(ref.shape)}")
            )
        query = self.maybe_normalize(query)
        ref = query if ref is None else self.maybe_normalize(ref)
        return self.compute_mat(query, ref)

    def compute_mat(self, query: Tensor, ref: Tensor) -> Tensor:
        raise NotImplementedError

    def maybe_normalize(self, x: Tensor) -> Tensor:
        return l2_normalize(x) if self.normalize_embeddings else x

    def margin(self, x: Tensor | float, y: Tensor | float) -> Tensor | float:
        """How much farther ``x`` is than ``y``: ``x - y`` for a distance, ``y - x`` if inverted."""
        return y - x if self.is_inverted else x - y

    def as_distance(self, mat: Tensor) -> Tensor:
        """``mat`` turned so that smaller always means closer (a similarity is negated)."""
        return -mat if self.is_inverted else mat

    def extra_repr(self) -> str:
        return f"normalize_embeddings={self.normalize_embeddings}"


class _L2Normalize(torch.autograd.Function):
    """``x / max(|x|, eps)`` row-wise, the value of ``F.normalize(x, dim=1)``.

    Backward in three passes, ``(g - y <g, y>) / max(|x|, eps)`` with ``y`` the output (``<g, y>``
    dropped for rows shorter than ``eps``, whose norm is the constant ``eps``), where autograd's
    chain through the norm and the division takes about eight.
    """

    @staticmethod
    def forward(ctx, x: Tensor, eps: float) -> Tensor:
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min_(eps)
        y = x / norm
        ctx.save_for_backward(y, norm)
        ctx.eps = eps
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        y, norm = ctx.saved_tensors
        dot = torch.linalg.vecdot(grad, y, dim=1).unsqueeze(1)
        dot = dot.masked_fill_(norm <= ctx.eps, 0.0)
        return torch.addcmul(grad, y, dot, value=-1.0).div_(norm), None


def l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    """Rows of ``x [N, D]`` scaled to unit L2 norm (``F.normalize(x, dim=1)``, cheaper backward)."""
    return _L2Normalize.apply(x, eps)


class _SelfGram(torch.autograd.Function):
    """``x @ x.T``; its backward is one matrix product, ``(g + g.T) @ x``, where autograd's
    would take two (``x`` enters the product twice)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x @ x.t()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return (grad + grad.t()) @ x


def inner_products(query: Tensor, ref: Tensor) -> Tensor:
    """``[N, M]`` inner products ``<q_i, r_j>`` (``ref is query``: the Gram matrix)."""
    return _SelfGram.apply(query) if ref is query else query @ ref.t()


class _PairwiseEuclidean(torch.autograd.Function):
    """``||q_i - r_j||`` (or its square) ``[N, M]`` with a hand-written backward.

    Forward: one ``addmm`` and three in-place passes; backward: ``dL/dq_i = c sum_j H_ij (q_i -
    r_j)`` as ``c (q * rowsum(H) - H @ r)``, with ``H = dL/dd / d`` (``c = 1``) or ``H = dL/dd``
    (squared, ``c = 2``), so a handful of passes over ``[N, M]`` instead of autograd's dozen.
    Clamped entries (``d^2 < eps``: an item with itself) get no gradient through the root.
    """

    @staticmethod
    def forward(ctx, query: Tensor, ref: Tensor, same: bool, squared: bool, eps: float) -> Tensor:
        q_sq = (query * query).sum(1, keepdim=True)
        r_sq = q_sq.t() if same else (ref * ref).sum(1).unsqueeze(0)
        out = torch.addmm(q_sq, query, ref.t(), alpha=-2.0).add_(r_sq)
        out = out.clamp_min_(0.0) if squared else out.clamp_min_(eps).sqrt_()
        ctx.save_for_backward(query, ref, out)
        ctx.same, ctx.squared, ctx.threshold = same, squared, eps**0.5
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        query, ref, out = ctx.saved_tensors
        if ctx.squared:
            h, scale = grad, 2.0
        else:
            h, scale = (grad / out).masked_fill_(out <= ctx.threshold, 0.0), 1.0
        if ctx.same:
            row_col = (h.sum(1) + h.sum(0)).unsqueeze(1)
            grad_q = (query * row_col - (h + h.t()) @ query) * scale
            return grad_q, None, None, None, None
        grad_q = grad_r = None
        if ctx.needs_input_grad[0]:
            grad_q = (query * h.sum(1, keepdim=True) - h @ ref) * scale
        if ctx.needs_input_grad[1]:
            grad_r = (ref * h.sum(0).unsqueeze(1) - h.t() @ query) * scale
        return grad_q, grad_r, None, None, None


def pairwise_euclidean(query: Tensor, ref: Tensor, squared: bool, eps: float = 1e-12) -> Tensor:
    """``[N, M]`` Euclidean distances (``ref is query`` for the batch with itself).

    The root is taken of ``max(d^2, eps)``, so an item with itself has a finite gradient.
    """
    return _PairwiseEuclidean.apply(query, ref, ref is query, squared, eps)
