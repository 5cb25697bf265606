"""Exact k-NN in blocks: each similarity block computed once, in cheap arithmetic where allowed.

Two loops over ``[B, B]`` blocks of cheap scores ``s~`` (:func:`~metriclab.search.matmul_precision.
cheap_scores`), feeding a :class:`~metriclab.search.candidates.CandidatePool`:

* self-gallery (the query set is the gallery, ``X [N, D]``): the similarity matrix is symmetric,
  so only the upper triangle is computed: block ``X_a X_b^T`` (``a < b``) serves the rows of
  ``a`` (its rows) and of ``b`` (its columns); the diagonal blocks come first, with the self pair
  removed by position, and seed every row's threshold. ``N^2 / 2`` scores instead of ``N^2``.
* query -> gallery: every block ``Q_a G_b^T``, rows only; the first gallery block seeds.

Then every row's candidates at or above its final threshold are re-scored with the reference
arithmetic (:func:`metriclab.search.exact.pair_sims`) and ordered by ``(-score, index)``, so
the result is the exact top-k of the reference path: the threshold keeps every item of it (see
:class:`~metriclab.search.matmul_precision.ErrorModel`), and among the kept ones the same
arithmetic and tie rule decide. Rows that overflowed their buffer come back in ``overflow``;
:func:`blocked_neighbors` recomputes them exactly (:func:`metriclab.search.exact.exact_topk`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from metriclab.search import exact
from metriclab.search.candidates import CandidatePool
from metriclab.search.matmul_precision import ErrorModel, cheap_scores, error_model

_FINAL_ROWS = 2**15  # rows per chunk of the final re-scoring


def default_block(d: int) -> int:
    """Block side ``B``: 2048 rows for ``D >= 256``, 4096 below (cheaper scores per pair)."""
    return 2048 if d >= 256 else 4096


def blocked_knn(
    query: torch.Tensor,
    gallery: torch.Tensor | None,
    k: int,
    precision: str,
    *,
    block: int | None = None,
    cap: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest gallery items of every query row, nearest first, ties to lower index.

    Args:
        query: ``[Nq, D]`` float32, L2-normalised.
        gallery: ``[Ng, D]`` likewise, or ``None``: the query set is the gallery (self-gallery
            mode, each row's own position excluded).
        k: neighbours per row, at most ``Ng`` (``Ng - 1`` in self-gallery mode).
        precision: ``"fp32"``, ``"bf16"`` or ``"tf32"`` (CUDA) for the cheap scores.
        block: the block side ``B`` (default :func:`default_block`).
        cap: candidate slots per row (default ``2k + 48``).

    Returns:
        ``indices [Nq, k]`` int64 (rows marked in ``overflow`` hold garbage) and
        ``overflow [Nq]`` bool.
    """
    self_mode = gallery is None
    g = query if self_mode else gallery
    block = block or default_block(query.shape[1])
    model = error_model(precision, query, g)
    pool = CandidatePool(len(query), k, cap or 2 * k + 48, model, query.device)
    to_cheap = torch.bfloat16 if precision == "bf16" else torch.float32
    qc = query.to(to_cheap)
    if self_mode:
        _self_gallery(pool, qc, block, precision)
    else:
        _query_gallery(pool, qc, g.to(to_cheap), block, precision)
    out = torch.empty(len(query), k, dtype=torch.int64, device=query.device)
    for r0 in range(0, len(query), _FINAL_ROWS):
        rows = slice(r0, r0 + _FINAL_ROWS)
        out[rows] = _rescored_topk(query[rows], g, model, *pool.final(rows), k)
    return out, pool.overflow


def blocked_neighbors(
    query: torch.Tensor,
    gallery: torch.Tensor,
    k: int,
    rows: torch.Tensor,
    exclude_self: bool,
    precision: str,
    block: int | None = None,
) -> torch.Tensor:
    """``[len(rows), k]`` exact neighbours of ``query[rows]`` by :func:`blocked_knn` (``k`` at
    most ``Ng - exclude_self``); rows that overflowed their candidate buffer (massive ties) are
    recomputed over the whole gallery by :func:`~metriclab.search.exact.exact_topk`."""
    if exclude_self:
        idx, overflow = blocked_knn(gallery, None, k, precision, block=block)
        idx, overflow = idx[rows], overflow[rows]
        positions = rows
    else:
        idx, overflow = blocked_knn(query[rows], gallery, k, precision, block=block)
        positions = None
    bad = overflow.nonzero().flatten()
    if len(bad):
        source = rows[bad]
        found = exact.exact_topk(query[source], gallery, min(k + int(exclude_self), len(gallery)))
        if positions is not None:
            found = torch.from_numpy(exact.drop_self(found.cpu().numpy(), source.cpu().numpy()))
        idx[bad] = found[:, :k].to(idx.device)
    return idx


def _self_gallery(pool: CandidatePool, x: torch.Tensor, block: int, precision: str) -> None:
    """The upper triangle of ``x x^T`` block by block; diagonal blocks first (they seed)."""
    starts = range(0, len(x), block)
    for a in starts:
        s = cheap_scores(x[a : a + block], x[a : a + block], precision)
        s.fill_diagonal_(float("-inf"))
        with _bookkeeping(s):
            pool.seed(slice(a, a + block), s)
            pool.collect(s, a, a)
    for a in starts:
        for b in starts:
            if b > a:
                s = cheap_scores(x[a : a + block], x[b : b + block], precision)
                with _bookkeeping(s):
                    pool.collect(s, a, b, columns=True)


def _query_gallery(
    pool: CandidatePool, q: torch.Tensor, g: torch.Tensor, block: int, precision: str
) -> None:
    """Every ``q_a g_b^T`` block, query blocks outer; the first gallery block seeds."""
    for a in range(0, len(q), block):
        for b in range(0, len(g), block):
            s = cheap_scores(q[a : a + block], g[b : b + block], precision)
            with _bookkeeping(s):
                if b == 0:
                    pool.seed(slice(a, a + block), s)
                pool.collect(s, a, b)


@contextmanager
def _bookkeeping(block: torch.Tensor) -> Iterator[None]:
    """One torch thread for the candidate bookkeeping of a CPU block (small tensors, where a
    second thread only adds synchronisation, many times the work on a busy machine: BENCHMARKS.md,
    "Evaluation at scale"); the numba scan keeps its own threads. CUDA: unchanged."""
    if block.is_cuda:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _rescored_topk(
    q: torch.Tensor,
    gallery: torch.Tensor,
    model: ErrorModel,
    scores: torch.Tensor,
    index: torch.Tensor,
    valid: torch.Tensor,
    k: int,
) -> torch.Tensor:
    """The exact top-k of each row from its valid candidates ``[m, cap]``: ``[m, k]`` indices.

    Candidates sorted by cheap score split into runs where adjacent scores ``s > s'`` are
    within ``2 b0 + c (|s| + |s'|)`` of each other; across runs the order of the reference
    scores ``e`` is the cheap order (``s - c|s|`` and ``s + c|s|`` both increase with ``s``).
    So only members of runs of two or more are re-scored (by
    :func:`~metriclab.search.exact.pair_sims`, the reference arithmetic), and only runs at
    ranks ``< k`` (or the one holding rank ``k - 1``: candidates after it are below every top-k
    item); the order is ``(run, -e, index)``.
    """
    cheap = torch.where(valid, scores, float("-inf"))
    order = cheap.sort(dim=1, descending=True).indices
    cheap, index, valid = cheap.gather(1, order), index.gather(1, order), valid.gather(1, order)
    upper, lower = cheap[:, :-1], cheap[:, 1:]
    limit = 2 * model.b0 + model.c * (upper.abs() + lower.abs())
    near = valid[:, 1:] & ((upper - lower) <= limit)
    run = torch.cat([near.new_zeros(len(near), 1, dtype=torch.int64), (~near).long()], 1)
    run = run.cumsum(dim=1)
    ranks = torch.arange(cheap.shape[1], device=cheap.device)
    relevant = valid & ((ranks < k) | (run == run[:, k - 1 : k]))
    pad = near.new_zeros(len(near), 1)
    paired = torch.cat([near, pad], 1) | torch.cat([pad, near], 1)
    r, c = (relevant & paired).nonzero(as_tuple=True)
    scored = torch.zeros_like(cheap, dtype=torch.float64)
    scored[r, c] = exact.pair_sims(q, gallery, r, index[r, c]).to(scored)
    run = torch.where(relevant, run, cheap.shape[1])  # irrelevant slots sort last
    index = torch.where(relevant, index, len(gallery))
    order = index.argsort(dim=1)
    index, scored, run = index.gather(1, order), scored.gather(1, order), run.gather(1, order)
    order = scored.sort(dim=1, descending=True, stable=True).indices
    index, run = index.gather(1, order), run.gather(1, order)
    order = run.sort(dim=1, stable=True).indices[:, :k]
    return index.gather(1, order)
