"""Exact, memory-bounded k-nearest-neighbour search by inner product.

Queries are processed in chunks (or blocks); for each only a running top-k (or candidate set)
is kept, so no ``[Nq, Ng]`` similarity matrix ever exists. The search is chosen by
:mod:`metriclab.search.plan`: the blocked search (self-gallery upper triangle, reduced
precision candidates with exact re-scoring) or one of the float32 backends of
:mod:`metriclab.search.backends` (FAISS on CPU or GPU, or a chunked torch matmul); all give
the same ranking. This module's chunk search, with the tie handling of
:mod:`metriclab.search.exact`, is the reference path.

Order: similarity descending, ties broken by the lower gallery index (the order of a stable
sort). No search kernel promises that order among equal similarities, and a BLAS kernel may round
two equal gallery rows differently, so a row whose candidates hold two similarities closer than
the rounding bound ``tol = D * 2**-22`` (see :func:`metriclab.search.exact.rank_with_ties`) is
re-scored elementwise and re-sorted by ``(-similarity, index)``; one extra neighbour is searched
to detect a tie that straddles the k-th place, and those rare rows are searched again with more
candidates.
Rows with no such close pair keep the search's order, which is then provably the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from metriclab.search import exact
from metriclab.search.backends import make_searcher, resolve_backend
from metriclab.search.blocked import blocked_neighbors
from metriclab.search.plan import SearchPlan, plan_search

_CHUNK_ELEMENTS = 2**22  # query rows x neighbours kept per chunk
_BLOCK_ELEMENTS = 2**25  # query rows x gallery columns of one torch similarity block


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
        idx = exact.rank_with_ties(q, gallery, sims, idx, k_rank, search).cpu().numpy()
        if exclude_self:
            idx = exact.drop_self(idx, positions)
        yield start, idx
