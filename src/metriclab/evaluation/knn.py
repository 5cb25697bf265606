"""Exact, memory-bounded k-nearest-neighbour search by inner product.

Queries are processed in chunks; for each chunk only its running top-k is kept, so no
``[Nq, Ng]`` similarity matrix ever exists. Two backends compute the same ranking:

* ``"faiss"``: ``faiss.knn`` (exact, BLAS + heap) on CPU float32 arrays;
* ``"torch"``: chunked ``query @ gallery.T`` + ``topk`` on the tensors' device (the GPU path;
  it also runs on CPU tensors, which is how the tests exercise it).

Order: similarity descending, ties broken by the lower gallery index (the order of a stable
sort). Neither backend promises that order among equal similarities, so each chunk is re-sorted
by ``(-similarity, index)``; one extra neighbour is searched to detect a tie that straddles the
k-th place, and those rare rows are recomputed exactly over the whole gallery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import numpy as np
import torch

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
    backend: str = "faiss",
    chunk_size: int | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, indices)`` chunks of the ``k`` nearest gallery items of each query.

    Args:
        query: ``[Nq, D]`` float32, L2-normalised (so inner product = cosine).
        gallery: ``[Ng, D]`` float32, L2-normalised, same device as ``query``.
        k: neighbours per query; capped at the number of gallery items available.
        query_rows: ``[Q]`` rows of ``query`` to search (default: all, in order).
        exclude_self: the query set is the gallery; query row ``p`` is removed from its own
            neighbours by position (duplicates of it may still rank first).
        backend: ``"faiss"`` (CPU) or ``"torch"`` (the tensors' device).
        chunk_size: query rows per chunk (and gallery columns per torch block); default: sized
            so a chunk holds about 4M neighbours.

    Yields:
        ``start`` (position in ``query_rows``) and ``indices [c, k'] int64`` gallery indices,
        nearest first, ``k' = min(k, Ng - exclude_self)``.
    """
    if backend not in ("faiss", "torch"):
        raise ValueError(f"backend must be 'faiss' or 'torch', got {backend!r}")
    rows = np.arange(len(query)) if query_rows is None else np.asarray(query_rows)
    n_gallery = gallery.shape[0]
    k_rank = min(k, n_gallery - int(exclude_self)) + int(exclude_self)  # self included
    k_search = min(k_rank + 1, n_gallery)  # one more to see ties across the k-th place
    chunk = chunk_size or int(np.clip(_CHUNK_ELEMENTS // k_search, 64, 4096))
    block = chunk_size or max(k_search, _BLOCK_ELEMENTS // chunk)
    if backend == "faiss":
        query, gallery = query.cpu(), gallery.cpu()
        gallery_np = gallery.numpy()
    for start in range(0, len(rows), chunk):
        positions = rows[start : start + chunk]
        q = query[torch.from_numpy(positions).to(query.device)]
        if backend == "faiss":
            sims, idx = faiss.knn(
                q.numpy(), gallery_np, k_search, metric=faiss.METRIC_INNER_PRODUCT
            )
            sims, idx = torch.from_numpy(sims), torch.from_numpy(idx)
        else:
            with _full_precision_matmul():
                sims, idx = _torch_topk(q, gallery, k_search, block)
        idx = _rank_with_ties(q, gallery, sims, idx, k_rank).cpu().numpy()
        if exclude_self:
            idx = _drop_self(idx, positions)
        yield start, idx


def _torch_topk(
    q: torch.Tensor, gallery: torch.Tensor, k: int, block: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Running top-k over gallery blocks: ``[c, D], [Ng, D] -> sims [c, k], indices [c, k]``."""
    best_s = best_i = None
    for g0 in range(0, gallery.shape[0], block):
        sims = q @ gallery[g0 : g0 + block].T
        s, i = sims.topk(min(k, sims.shape[1]), dim=1)
        i += g0
        if best_s is not None:
            s, i = torch.cat([best_s, s], dim=1), torch.cat([best_i, i], dim=1)
            s, order = s.topk(min(k, s.shape[1]), dim=1)
            i = i.gather(1, order)
        best_s, best_i = s, i
    return best_s, best_i


def _rank_with_ties(
    q: torch.Tensor,
    gallery: torch.Tensor,
    sims: torch.Tensor,
    idx: torch.Tensor,
    k: int,
) -> torch.Tensor:
    """Sort candidates by ``(-sim, index)`` and keep ``k``: ``[c, k_search] -> [c, k]`` indices.

    The candidates' similarities are first recomputed by :func:`_candidate_sims`, the same
    arithmetic for every candidate, so equal gallery rows get equal values (a search kernel may
    round them differently by position). If ``sims[:, k-1] == sims[:, k]`` the set may hold a
    higher index than a tied item left out; such rows are recomputed by :func:`_exact_topk`.
    """
    sims = _candidate_sims(q, gallery, idx)
    order = idx.argsort(dim=1)
    sims, idx = sims.gather(1, order), idx.gather(1, order)
    order = sims.sort(dim=1, descending=True, stable=True).indices
    sims, idx = sims.gather(1, order), idx.gather(1, order)
    if idx.shape[1] > k:
        tied = (sims[:, k - 1] == sims[:, k]).nonzero().flatten()
        if len(tied):
            idx[tied, :k] = _exact_topk(q[tied], gallery, k)
    return idx[:, :k]


def _candidate_sims(q: torch.Tensor, gallery: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``<q_i, g_idx[i, j]>`` as elementwise products summed along ``D``: ``[c, k]``.

    Row groups keep the gathered ``[rows, k, D]`` block near ``2**24`` elements.
    """
    per_row = idx.shape[1] * gallery.shape[1]
    group = max(1, _CANDIDATE_ELEMENTS // max(1, per_row))
    out = torch.empty(idx.shape, dtype=q.dtype, device=q.device)
    for r0 in range(0, len(idx), group):
        rows = idx[r0 : r0 + group].to(gallery.device)
        out[r0 : r0 + group] = (gallery[rows] * q[r0 : r0 + group, None, :]).sum(dim=2)
    return out


def _elementwise_sims(q: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """``[r, D], [Ng, D] -> [r, Ng]`` inner products with the arithmetic of
    :func:`_candidate_sims` (equal gallery rows, equal values), in gallery blocks."""
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


@contextmanager
def _full_precision_matmul() -> Iterator[None]:
    """Run float32 matmuls in full precision (no TF32/bf16), restoring the user's setting."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)
