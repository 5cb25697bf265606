"""``retrieval_metrics``: Recall@k, Precision@1, R-Precision and MAP@R of an embedding set."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

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
    q, q_labels, g, g_labels = checked_inputs(query, query_labels, gallery, gallery_labels)
    self_mode = gallery is None
    r = relevant_counts(q_labels, g_labels, exclude_self=self_mode)
    rows = scored_queries(r, q_labels)
    g = l2_normalize(g.to(q.device))
    q = g if self_mode else l2_normalize(q)
    neighbours = nearest_neighbors(
        q,
        g,
        max(max(ks), int(r[rows].max())),  # enough for recall@max(ks) and the largest R_i
        query_rows=rows,
        exclude_self=self_mode,
        backend=backend,
        precision=precision,
        chunk_size=chunk_size,
        on_search=on_search,
    )
    sums = np.zeros(len(ks) + 3, dtype=np.float64)  # recall@ks, precision@1, r_prec, map@r
    for start, idx in neighbours:
        chunk_rows = rows[start : start + len(idx)]
        sums += metric_sums(g_labels[idx], q_labels[chunk_rows], r[chunk_rows], ks)
    names = [f"recall@{kk}" for kk in ks] + ["precision@1", "r_precision", "map@r"]
    return dict(zip(names, (sums / rows.size).tolist(), strict=True))


def checked_inputs(
    query: Any, query_labels: Any, gallery: Any, gallery_labels: Any
) -> tuple[torch.Tensor, np.ndarray, torch.Tensor, np.ndarray]:
    """``(query [Nq, D], query labels [Nq], gallery [Ng, D], gallery labels [Ng])`` checked and
    converted (float32 tensors, int64 arrays); the query set itself when ``gallery`` is None.

    Raises:
        ValueError: bad shapes, dtypes, NaN/Inf, empty input, a gallery without its labels (or
            the reverse), or a gallery of another dimension.
    """
    q = as_embeddings(query, "query")
    q_labels = as_labels(query_labels, q.shape[0], "query_labels")
    if gallery is None:
        if gallery_labels is not None:
            raise ValueError("gallery_labels was given without gallery; pass both or neither")
        return q, q_labels, q, q_labels
    if gallery_labels is None:
        raise ValueError("gallery was given without gallery_labels; pass both or neither")
    g = as_embeddings(gallery, "gallery")
    g_labels = as_labels(gallery_labels, g.shape[0], "gallery_labels")
    if g.shape[1] != q.shape[1]:
        raise ValueError(
            f"gallery has dimension {g.shape[1]} but query has {q.shape[1]}; "
            "embed both with the same model"
        )
    return q, q_labels, g, g_labels


def scored_queries(r: np.ndarray, q_labels: np.ndarray) -> np.ndarray:
    """The rows of the queries with ``R_i > 0`` same-label gallery items (the others are left
    out of every metric); a ``ValueError`` when there is none."""
    rows = np.flatnonzero(r > 0)
    if rows.size == 0:
        raise ValueError(
            f"no query has a same-label item in the gallery ({len(r)} queries, "
            f"{len(np.unique(q_labels))} classes); each class needs at least 2 samples "
            "(or one in the gallery)"
        )
    return rows


def metric_sums(
    neighbour_labels: np.ndarray, labels: np.ndarray, r: np.ndarray, ks: tuple[int, ...]
) -> list[float]:
    """One chunk's sums over its queries of ``recall@k`` (each ``k``), ``precision@1``,
    ``r_precision`` and ``map@r``, from the labels of its neighbours ``[c, k']`` (nearest
    first), its own labels ``[c]`` and ``R_i`` ``[c]``."""
    hits = neighbour_hits(neighbour_labels, labels)
    return [recall_at_k(hits, kk).sum() for kk in ks] + [
        hits[:, 0].sum(),
        r_precision(hits, r).sum(),
        average_precision_at_r(hits, r).sum(),
    ]
