"""The reference arithmetic every search path ends in: exact pair scores, ties, self-removal.

The search paths (:mod:`metriclab.search.knn`'s chunk search, :mod:`metriclab.search.blocked`)
find candidates fast; the final order is decided here, by one arithmetic for every candidate:

* :func:`pair_sims` / :func:`elementwise_sims`: ``e(q, g) = sum_d q_d g_d`` computed elementwise
  (equal gallery rows get equal values, whatever their position), on the CPU in float64 sums of
  the float32 products (:mod:`metriclab.search.rescore`);
* :func:`rank_with_ties`: the ``k`` nearest in ``(-similarity, index)`` order from a search's
  sorted candidates, re-scoring only the rows with two candidates closer than the rounding bound
  ``tol = D * 2**-22``;
* :func:`exact_topk`: the exact top-k over the whole gallery (the fallback for rows whose ties
  run past the searched candidates);
* :func:`drop_self`: a self-gallery row without its own position.

This module imports no other search module but :mod:`metriclab.search.rescore` (and
:mod:`metriclab.search.backends` for a type), so every search path can build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from metriclab.search import rescore

if TYPE_CHECKING:
    from metriclab.search.backends import Searcher

_EXACT_ELEMENTS = 2**23  # rows x gallery size of one exact (tie) recomputation
_CANDIDATE_ELEMENTS = 2**24  # rows x candidates x dimension of one candidate re-scoring


def rank_with_ties(
    q: torch.Tensor,
    gallery: torch.Tensor,
    sims: torch.Tensor,
    idx: torch.Tensor,
    k: int,
    search: Searcher | None = None,
) -> torch.Tensor:
    """The ``k`` nearest in ``(-sim, index)`` order from sorted candidates: ``[c, k_s] -> [c, k]``.

    Both the search and the elementwise re-scoring of :func:`pair_sims` round an inner product
    of unit vectors by at most ``D * 2**-24``, so two candidates whose searched similarities differ
    by more than ``tol = D * 2**-22`` are in the same order under either arithmetic. Only rows
    with adjacent candidates within ``tol`` (``sims`` is sorted) go to :func:`rescore_ties`; the
    others keep the search's order. ``search`` finds more candidates for the rows whose run of
    near-equal candidates reaches past the last one (see :func:`rescore_ties`).
    """
    tol = q.shape[1] * 2.0**-22
    if sims.is_cuda:
        near = (sims[:, :-1] - sims[:, 1:]) <= tol
        rows = near.any(dim=1).nonzero().flatten()
    else:  # numpy: on small CPU arrays it skips torch's thread-pool start-up after FAISS's
        near_np = np.diff(sims.numpy(), axis=1) >= -tol
        near, rows = torch.from_numpy(near_np), torch.from_numpy(np.flatnonzero(near_np.any(1)))
    out = idx[:, :k].clone()
    if len(rows):
        out[rows] = rescore_ties(q[rows], gallery, sims[rows], idx[rows], near[rows], k, search)
    return out


def rescore_ties(
    q: torch.Tensor,
    gallery: torch.Tensor,
    sims: torch.Tensor,
    idx: torch.Tensor,
    near: torch.Tensor,
    k: int,
    search: Searcher | None = None,
) -> torch.Tensor:
    """Re-sort candidates by ``(-sim, index)`` and keep ``k``: ``[r, k_s] -> [r, k]`` indices.

    The candidates in a run of near-equal neighbours (``near [r, k_s - 1]``: adjacent gap within
    ``tol``) are re-scored by :func:`pair_sims`, the same arithmetic for every candidate, so
    equal gallery rows get equal values (a search kernel may round them differently by
    position). Re-scored values move by less than ``tol / 2``, so they stay between the
    (unchanged) values around their run: only the order inside a run changes. A row whose run
    through rank ``k - 1`` reaches the last candidate may have run members (ties, or items that
    re-score higher) that were not searched: it is searched again with 4 times the candidates
    (``search``), or recomputed by :func:`exact_topk` (no ``search``, or past 2048).
    """
    pad = near.new_zeros(len(near), 1)
    involved = torch.cat([near, pad], dim=1) | torch.cat([pad, near], dim=1)
    r, c = involved.nonzero(as_tuple=True)
    sims = sims.double()  # a copy; float64 holds either arithmetic's values
    sims[r, c] = pair_sims(q, gallery, r, idx[r, c]).to(sims)
    order = idx.argsort(dim=1)
    sims, idx = sims.gather(1, order), idx.gather(1, order)
    order = sims.sort(dim=1, descending=True, stable=True).indices
    sims, idx = sims.gather(1, order), idx.gather(1, order)
    n_cand = idx.shape[1]
    if k < n_cand < len(gallery):
        open_end = near[:, k - 1 :].all(dim=1).nonzero().flatten()
        if len(open_end):
            wider = min(len(gallery), 4 * n_cand)
            qr = q[open_end]
            if search is not None and wider <= 2048:
                sims, more = search(qr, wider)
                idx[open_end, :k] = rank_with_ties(qr, gallery, sims, more, k, search)
            else:
                idx[open_end, :k] = exact_topk(qr, gallery, k)
    return idx[:, :k]


def pair_sims(
    q: torch.Tensor, gallery: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor
) -> torch.Tensor:
    """``e(q[rows[p]], gallery[cols[p]])``, the reference pair arithmetic: ``[P]``.

    On the CPU (numba): float64 sums of the float32 products (:mod:`.rescore`). Else
    elementwise float32 products summed along ``D``, in groups whose gathered ``[P', D]``
    blocks hold about ``2**24`` elements.
    """
    if rescore.available(q):
        return rescore.pair_dots(q, gallery, rows, cols)
    group = max(1, _CANDIDATE_ELEMENTS // gallery.shape[1])
    out = torch.empty(len(rows), dtype=q.dtype, device=q.device)
    for p0 in range(0, len(rows), group):
        g = gallery.index_select(0, cols[p0 : p0 + group].to(gallery.device))
        out[p0 : p0 + group] = g.mul_(q.index_select(0, rows[p0 : p0 + group])).sum(dim=1)
    return out


def elementwise_sims(q: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """``[r, D], [Ng, D] -> [r, Ng]`` inner products with the arithmetic of
    :func:`pair_sims` (equal gallery rows, equal values), in gallery blocks."""
    if rescore.available(q):
        return rescore.dense_dots(q, gallery)
    block = max(1, _CANDIDATE_ELEMENTS // max(1, len(q) * gallery.shape[1]))
    return torch.cat(
        [
            (gallery[None, g0 : g0 + block] * q[:, None, :]).sum(dim=2)
            for g0 in range(0, gallery.shape[0], block)
        ],
        dim=1,
    )


def exact_topk(q: torch.Tensor, gallery: torch.Tensor, k: int) -> torch.Tensor:
    """Exact top-k over the whole gallery with ties to the lower index: ``[t, D] -> [t, k]``.

    Rows go in groups of about ``2**23 / Ng`` so a group's ``[g, Ng]`` similarities stay small;
    the k-th value ``v`` is found by ``topk``, then all items above ``v`` and
    the lowest-index items equal to ``v`` are taken.
    """
    n_gallery = gallery.shape[0]
    group = max(1, _EXACT_ELEMENTS // n_gallery)
    out = []
    for r0 in range(0, len(q), group):
        sims = elementwise_sims(q[r0 : r0 + group], gallery)
        kth = sims.topk(k, dim=1).values[:, -1:]
        above = sims > kth
        equal = sims == kth
        take = above | (equal & (equal.cumsum(dim=1) <= k - above.sum(dim=1, keepdim=True)))
        idx = take.nonzero()[:, 1].view(-1, k)  # ascending index within each row
        order = sims.gather(1, idx).sort(dim=1, descending=True, stable=True).indices
        out.append(idx.gather(1, order))
    return torch.cat(out)


def drop_self(idx: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Remove each row's own position, or its last column if absent: ``[c, k+1] -> [c, k]``."""
    is_self = idx == positions[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return idx[~is_self].reshape(len(idx), -1)
