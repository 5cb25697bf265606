"""Exact, memory-bounded k-nearest-neighbour search by inner product.

Queries are processed in chunks (or blocks); for each only a running top-k (or candidate set)
is kept, so no ``[Nq, Ng]`` similarity matrix ever exists. The search is chosen by
:mod:`metriclab.search.plan`: the blocked search (self-gallery upper triangle, reduced
precision candidates with exact re-scoring) or one of the float32 backends of
:mod:`metriclab.search.backends` (FAISS on CPU or GPU, or a chunked torch matmul); all give
the same ranking. This module's chunk search and its tie handling below are the reference path.

Order: similarity descending, ties broken by the lower gallery index (the order of a stable
sort). No search kernel promises that order among equal similarities, and a BLAS kernel may round
two equal gallery rows differently, so a row whose candidates hold two similarities closer than
the rounding bound ``tol = D * 2**-22`` (see :func:`_rank_with_ties`) is re-scored elementwise
and re-sorted by ``(-similarity, index)``; one extra neighbour is searched to detect a tie that
straddles the k-th place, and those rare rows are searched again with more candidates.
Rows with no such close pair keep the search's order, which is then provably the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from metriclab.search import rescore
from metriclab.search.backends import Searcher, make_searcher, resolve_backend
from metriclab.search.plan import SearchPlan, blocked_neighbors, plan_search

_CHUNK_ELEMENTS = 2**22  # query rows x neighbours kept per chunk
_BLOCK_ELEMENTS = 2**25  # query rows x gallery columns of one torch similarity block
_EXACT_ELEMENTS = 2**23  # rows x gallery size of one exact (tie) recomputation
_CANDIDATE_ELEMENTS = 2**24  # rows x candidates x dimension of one candidate re-scoring


def nearest_neighbors(
    query: torch.Tensor,
    gallery: torch.Tensor,
    k: int,
    *,
    query_rows: np.ndarray | None = None,
    exclude_self: bool = False,
    backend: str = "auto",
    precision: str = "auto",
    chunk_size: int | None = None,
    on_search: Callable[[str], None] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, indices)`` chunks of the ``k`` nearest gallery items of each query.

    Args:
        query: ``[Nq, D]`` float32, L2-normalised (so inner product = cosine).
        gallery: ``[Ng, D]`` float32, L2-normalised, same device as ``query``; with
            ``exclude_self`` the same tensor as ``query``.
        k: neighbours per query; capped at the number of gallery items available.
        query_rows: ``[Q]`` rows of ``query`` to search (default: all, in order).
        exclude_self: the query set is the gallery; query row ``p`` is removed from its own
            neighbours by position (duplicates of it may still rank first).
        backend: ``"auto"``, ``"blocked"``, ``"faiss"``, ``"faiss_gpu"`` or ``"torch"`` (see
            :mod:`metriclab.search.plan`).
        precision: cheap-score precision of the blocked search: ``"auto"``, ``"fp32"``,
            ``"bf16"`` or ``"tf32"`` (CUDA); the neighbours are exact whatever it is.
        chunk_size: query rows per chunk (and gallery columns per torch block, or the block
            side of the blocked search); default: sized so a chunk holds about 4M neighbours.
        on_search: called once with a one-line description of the path that runs.

    Yields:
        ``start`` (position in ``query_rows``) and ``indices [c, k'] int64`` gallery indices,
        nearest first, ``k' = min(k, Ng - exclude_self)``.
    """
    rows = np.arange(len(query)) if query_rows is None else np.asarray(query_rows)
    n_gallery = gallery.shape[0]
    k_rank = min(k, n_gallery - int(exclude_self)) + int(exclude_self)  # self included
    k_search = min(k_rank + 1, n_gallery)  # one more to see ties across the k-th place
    plan = plan_search(query, n_gallery, k_search, exclude_self, backend, precision)
    if plan.backend == "blocked" and k_rank > int(exclude_self):
        if on_search is not None:
            on_search(plan.describe())
        where = torch.from_numpy(rows).to(query.device)
        k_out = k_rank - int(exclude_self)
        idx = blocked_neighbors(
            query, gallery, k_out, where, exclude_self, plan.precision, chunk_size
        )
        chunk = chunk_size or int(np.clip(_CHUNK_ELEMENTS // k_search, 64, 4096))
        for start in range(0, len(rows), chunk):
            yield start, idx[start : start + chunk].cpu().numpy()
        return
    backend = plan.backend if plan.backend != "blocked" else resolve_backend("auto", query.is_cuda)
    if on_search is not None:
        on_search(SearchPlan(backend, "fp32", False, plan.device).describe())
    chunk = chunk_size or int(np.clip(_CHUNK_ELEMENTS // k_search, 64, 4096))
    block = chunk_size or max(k_search, _BLOCK_ELEMENTS // chunk)
    if backend == "faiss":
        query, gallery = query.cpu(), gallery.cpu()
    search = make_searcher(backend, gallery, block)
    for start in range(0, len(rows), chunk):
        positions = rows[start : start + chunk]
        q = query[torch.from_numpy(positions).to(query.device)]
        sims, idx = search(q, k_search)
        idx = _rank_with_ties(q, gallery, sims, idx, k_rank, search).cpu().numpy()
        if exclude_self:
            idx = _drop_self(idx, positions)
        yield start, idx


def _rank_with_ties(
    q: torch.Tensor,
    gallery: torch.Tensor,
    sims: torch.Tensor,
    idx: torch.Tensor,
    k: int,
    search: Searcher | None = None,
) -> torch.Tensor:
    """The ``k`` nearest in ``(-sim, index)`` order from sorted candidates: ``[c, k_s] -> [c, k]``.

    Both the search and the elementwise re-scoring of :func:`_pair_sims` round an inner product
    of unit vectors by at most ``D * 2**-24``, so two candidates whose searched similarities differ
    by more than ``tol = D * 2**-22`` are in the same order under either arithmetic. Only rows
    with adjacent candidates within ``tol`` (``sims`` is sorted) go to :func:`_rescore`; the
    others keep the search's order. ``search`` finds more candidates for the rows whose run of
    near-equal candidates reaches past the last one (see :func:`_rescore`).
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
        out[rows] = _rescore(q[rows], gallery, sims[rows], idx[rows], near[rows], k, search)
    return out


def _rescore(
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
    ``tol``) are re-scored by :func:`_pair_sims`, the same arithmetic for every candidate, so
    equal gallery rows get equal values (a search kernel may round them differently by
    position). Re-scored values move by less than ``tol / 2``, so they stay between the
    (unchanged) values around their run: only the order inside a run changes. A row whose run
    through rank ``k - 1`` reaches the last candidate may have run members (ties, or items that
    re-score higher) that were not searched: it is searched again with 4 times the candidates
    (``search``), or recomputed by :func:`_exact_topk` (no ``search``, or past 2048).
    """
    pad = near.new_zeros(len(near), 1)
    involved = torch.cat([near, pad], dim=1) | torch.cat([pad, near], dim=1)
    r, c = involved.nonzero(as_tuple=True)
    sims = sims.double()  # a copy; float64 holds either arithmetic's values
    sims[r, c] = _pair_sims(q, gallery, r, idx[r, c]).to(sims)
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
                idx[open_end, :k] = _rank_with_ties(qr, gallery, sims, more, k, search)
            else:
                idx[open_end, :k] = _exact_topk(qr, gallery, k)
    return idx[:, :k]


def _pair_sims(
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


def _elementwise_sims(q: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """``[r, D], [Ng, D] -> [r, Ng]`` inner products with the arithmetic of
    :func:`_pair_sims` (equal gallery rows, equal values), in gallery blocks."""
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


def _exact_topk(q: torch.Tensor, gallery: torch.Tensor, k: int) -> torch.Tensor:
    """Exact top-k over the whole gallery with ties to the lower index: ``[t, D] -> [t, k]``.

    Rows go in groups of about ``2**23 / Ng`` so a group's ``[g, Ng]`` similarities stay small;
    the k-th value ``v`` is found by ``topk``, then all items above ``v`` and
    the lowest-index items equal to ``v`` are taken.
    """
    n_gallery = gallery.shape[0]
    group = max(1, _EXACT_ELEMENTS // n_gallery)
    out = []
    for r0 in range(0, len(q), group):
        sims = _elementwise_sims(q[r0 : r0 + group], gallery)
        kth = sims.topk(k, dim=1).values[:, -1:]
        above = sims > kth
        equal = sims == kth
        take = above | (equal & (equal.cumsum(dim=1) <= k - above.sum(dim=1, keepdim=True)))
        idx = take.nonzero()[:, 1].view(-1, k)  # ascending index within each row
        order = sims.gather(1, idx).sort(dim=1, descending=True, stable=True).indices
        out.append(idx.gather(1, order))
    return torch.cat(out)


def _drop_self(idx: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Remove each row's own position, or its last column if absent: ``[c, k+1] -> [c, k]``."""
    is_self = idx == positions[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return idx[~is_self].reshape(len(idx), -1)
