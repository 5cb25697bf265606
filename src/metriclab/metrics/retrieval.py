"""``retrieval_metrics``: Recall@k, Precision@1, R-Precision and MAP@R of an embedding set."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from metriclab.distances.base import l2_normalize
from metriclab.metrics.formulas import (
    average_precision_at_r,
    neighbour_hits,
    r_precision,
    recall_at_k,
    relevant_counts,
)
from metriclab.search.inputs import as_embeddings, as_ks, as_labels
from metriclab.search.knn import nearest_neighbors


def retrieval_metrics(
    query: Any,
    query_labels: Any,
    gallery: Any = None,
    gallery_labels: Any = None,
    ks: Iterable[int] = (1, 2, 4, 8),
    *,
    backend: str = "auto",
    precision: str = "auto",
    chunk_size: int | None = None,
    on_search: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Retrieval metrics of query embeddings against a gallery, ranked by cosine similarity.

    Args:
        query: ``[Nq, D]`` float numpy array or torch tensor (any float dtype, any device).
        query_labels: ``[Nq]`` integer labels.
        gallery: ``[Ng, D]`` embeddings, or ``None``: the query set is the gallery and each query
            is excluded from its own neighbours by its position.
        gallery_labels: ``[Ng]`` integer labels; given exactly when ``gallery`` is.
        ks: the ``k`` of each ``recall@k``, positive integers.
        backend: ``"blocked"`` (blocks of cheap scores, each self-gallery block computed once,
            candidates re-scored exactly), ``"faiss"`` (exact search on CPU), ``"faiss_gpu"``
            (a faiss-gpu flat index), ``"torch"`` (chunked matmul + topk on the tensors'
            device) or ``"auto"``: blocked for a self-gallery or when a reduced precision is
            fast; else faiss for CPU input, faiss_gpu (when installed) or torch for CUDA. The
            search runs on the tensors' device; see :mod:`metriclab.search.plan`.
        precision: cheap scores of the blocked search: ``"bf16"``, ``"fp32"``, ``"tf32"``
            (CUDA) or ``"auto"`` (bf16 where measured fast on the device, for searches of at
            least ``2**30`` multiply-adds). The neighbours, and so the metrics, are those of the
            float32 search whatever it is.
        chunk_size: query rows per chunk, or the block side (default: sized automatically).
        on_search: called once with a one-line description of the search path that ran.

    Returns:
        ``{"recall@k" for k in ks, "precision@1", "r_precision", "map@r"}``, floats in [0, 1].
        Embeddings are L2-normalised; neighbours are ordered by similarity, ties to the lower
        gallery index. With ``R_i`` the same-label gallery items of query ``i`` (self excluded)
        and ``hit_ij`` whether its ``j``-th neighbour shares its label, averaged over queries:
        ``recall@k = [any_{j<=k} hit_ij]``, ``precision@1 = hit_i1`` (= recall@1),
        ``r_precision = (1/R_i) sum_{j<=R_i} hit_ij``,
        ``map@r = (1/R_i) sum_{j<=R_i} hit_ij * (1/j) sum_{l<=j} hit_il``.
        Queries with ``R_i = 0`` (their class has no other gallery item) are left out of every
        metric, as pytorch-metric-learning's AccuracyCalculator does.

    Raises:
        ValueError: bad shapes, dtypes, NaN/Inf, empty input, bad ``ks``, or no query with a
            same-label gallery item.
    """
    ks = as_ks(ks)
    q = as_embeddings(query, "query")
    q_labels = as_labels(query_labels, q.shape[0], "query_labels")
    self_mode = gallery is None
    if self_mode:
        if gallery_labels is not None:
            raise ValueError("gallery_labels was given without gallery; pass both or neither")
        g, g_labels = q, q_labels
    else:
        if gallery_labels is None:
            raise ValueError("gallery was given without gallery_labels; pass both or neither")
        g = as_embeddings(gallery, "gallery")
        g_labels = as_labels(gallery_labels, g.shape[0], "gallery_labels")
        if g.shape[1] != q.shape[1]:
            raise ValueError(
                f"gallery has dimension {g.shape[1]} but query has {q.shape[1]}; "
                "embed both with the same model"
            )
    r = relevant_counts(q_labels, g_labels, exclude_self=self_mode)
    rows = np.flatnonzero(r > 0)
    if rows.size == 0:
        raise ValueError(
            f"no query has a same-label item in the gallery ({len(r)} queries, "
            f"{len(np.unique(q_labels))} classes); each class needs at least 2 samples "
            "(or one in the gallery)"
        )
    k = max(max(ks), int(r[rows].max()))

    g = l2_normalize(g.to(q.device))
    q = g if self_mode else l2_normalize(q)
    sums = np.zeros(len(ks) + 3, dtype=np.float64)  # recall@ks, precision@1, r_prec, map@r
    for start, idx in nearest_neighbors(
        q,
        g,
        k,
        query_rows=rows,
        exclude_self=self_mode,
        backend=backend,
        precision=precision,
        chunk_size=chunk_size,
        on_search=on_search,
    ):
        chunk_rows = rows[start : start + len(idx)]
        hits = neighbour_hits(g_labels[idx], q_labels[chunk_rows])
        r_chunk = r[chunk_rows]
        sums += [recall_at_k(hits, kk).sum() for kk in ks] + [
            hits[:, 0].sum(),
            r_precision(hits, r_chunk).sum(),
            average_precision_at_r(hits, r_chunk).sum(),
        ]
    names = [f"recall@{kk}" for kk in ks] + ["precision@1", "r_precision", "map@r"]
    return dict(zip(names, (sums / rows.size).tolist(), strict=True))
