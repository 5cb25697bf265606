"""Retrieval metric arithmetic: pure functions, neighbour labels in, per-query floats out.

Notation for one query ``i``: ``hits[i, j]`` is True when its ``(j+1)``-th nearest gallery item
(self excluded) has the query's label; ``R_i`` is the number of same-label gallery items (self
excluded). Queries with ``R_i = 0`` have no defined metric and are left out by the caller.
Definitions follow Musgrave et al., "A Metric Learning Reality Check" (ECCV 2020).
"""

from __future__ import annotations

import numpy as np


def relevant_counts(
    query_labels: np.ndarray, gallery_labels: np.ndarray, exclude_self: bool
) -> np.ndarray:
    """``R_i``: same-label gallery items of each query, ``[Nq] int, [Ng] int -> [Nq] int64``.

    With ``exclude_self`` (the query set is the gallery) the query itself is not counted.
    """
    classes, counts = np.unique(gallery_labels, return_counts=True)
    pos = np.minimum(np.searchsorted(classes, query_labels), len(classes) - 1)
    found = classes[pos] == query_labels
    return np.where(found, counts[pos], 0).astype(np.int64) - int(exclude_self)


def neighbour_hits(neighbour_labels: np.ndarray, query_labels: np.ndarray) -> np.ndarray:
    """``hits[i, j] = (neighbour_labels[i, j] == query_labels[i])``: ``[Q, K], [Q] -> [Q, K]``."""
    return neighbour_labels == query_labels[:, None]


def recall_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """Recall@k of deep-metric-learning papers: ``1`` if any of the ``k`` nearest is a hit.

    ``hits [Q, K] bool -> [Q] float64``; ``k > K`` uses all ``K`` columns.
    """
    return hits[:, :k].any(axis=1).astype(np.float64)


def _first_r(hits: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``hits`` with columns ``j >= R_i`` cleared; needs ``K >= max(R)``."""
    if r.size and int(r.max()) > hits.shape[1]:
        raise ValueError(f"need at least max(R)={int(r.max())} neighbours, got {hits.shape[1]}")
    return hits & (np.arange(hits.shape[1]) < r[:, None])


def r_precision(hits: np.ndarray, r: np.ndarray) -> np.ndarray:
    """R-precision: ``(1 / R_i) * sum_{j < R_i} hits[i, j]``; ``[Q, K], [Q] -> [Q] float64``."""
    return _first_r(hits, r).sum(axis=1) / r


def average_precision_at_r(hits: np.ndarray, r: np.ndarray) -> np.ndarray:
    """AP@R: ``(1 / R_i) * sum_{j < R_i} hits[i, j] * P_i(j)``; ``[Q, K], [Q] -> [Q] float64``.

    ``P_i(j) = (1 / (j + 1)) * sum_{l <= j} hits[i, l]`` is the precision at rank ``j + 1``; the
    mean over queries is MAP@R.
    """
    relevant = _first_r(hits, r)
    precision = np.cumsum(relevant, axis=1) / np.arange(1, hits.shape[1] + 1)
    return (precision * relevant).sum(axis=1) / r
