"""Classifiers over a gallery of labelled embeddings: a k-NN vote and the nearest class centroid.

Both are pure functions that return ``(labels int64 [Q], confidence float64 [Q])``; a query whose
confidence is below a calibrated threshold is then answered ``unknown`` (see
:mod:`metriclab.recognition.calibrate`).

- **k-NN vote** (:func:`knn_vote`), on the ``k`` nearest gallery rows of each query with cosine
  similarities ``s_1 >= ... >= s_k`` and labels ``y_j`` (the index's search results, so any
  FAISS index type works): class ``c`` scores ``V_c = sum_j w_j [y_j = c]`` with
  ``w_j = max(s_j, 0)`` (``weighted``) or ``w_j = 1``; the answer is ``argmax_c V_c`` (a tie goes
  to the class of the better-ranked neighbour) and the confidence ``V_c / k``: the vote share,
  or the mean clamped similarity of the votes that agree (at ``k = 1``: the nearest similarity).
  Rows labelled ``-1`` (unlabelled) or missing (FAISS row ``-1``) do not vote.
- **nearest centroid** (:func:`nearest_centroid`): ``mu_c`` = the mean of the L2-normalised
  gallery embeddings of class ``c``; the answer is ``argmax_c cos(q, mu_c)`` and the confidence
  that cosine, or with a ``temperature`` T > 0 the softmax probability of the answer over the
  enrolled classes, ``exp(cos_c / T) / sum_c' exp(cos_c' / T)`` (it also falls when a second
  class is nearly as close: on Omniglot it separates strangers better than the cosine).
"""

from __future__ import annotations

import numpy as np

from metriclab.errors import ConfigError

METHODS = ("knn", "centroid")


def knn_vote(
    similarities: np.ndarray, neighbour_labels: np.ndarray, k: int | None = None, weighted=True
) -> tuple[np.ndarray, np.ndarray]:
    """The k-NN vote of the module docstring.

    Args:
        similarities: ``[Q, K]`` cosine similarities, nearest first.
        neighbour_labels: ``[Q, K]`` int labels of those rows (``-1``: does not vote).
        k: the first ``k <= K`` neighbours vote (default: all ``K``).
        weighted: weight each vote by its clamped similarity (else one vote each).

    Returns:
        ``labels [Q]`` (``-1`` when no neighbour votes) and ``confidence [Q]`` in ``[0, 1]``.
    """
    sims = np.asarray(similarities, dtype=np.float64)
    labels = np.asarray(neighbour_labels, dtype=np.int64)
    k = sims.shape[1] if k is None else min(int(k), sims.shape[1])
    sims, labels = sims[:, :k], labels[:, :k]
    votes = labels >= 0
    w = np.where(votes, np.clip(np.nan_to_num(sims, neginf=0.0), 0.0, None) if weighted else 1.0, 0)
    same = labels[:, :, None] == labels[:, None, :]  # [Q, k, k]
    score = np.einsum("qij,qi->qj", same, w)  # V of each neighbour's class
    score[~votes] = -1.0
    best = np.argmax(score, axis=1)  # first maximum: the better-ranked neighbour wins a tie
    rows = np.arange(len(sims))
    top = score[rows, best]
    predicted = np.where(top >= 0, labels[rows, best], -1)
    return predicted, np.maximum(top, 0.0) / max(k, 1)


def class_centroids(embeddings: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``float32 [C, D]``: row ``c`` is the mean of the L2-normalised embeddings labelled ``c``
    (a zero row for a class with none; labels outside ``[0, C)`` are ignored)."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    y = np.asarray(labels, dtype=np.int64)
    keep = (y >= 0) & (y < num_classes)
    sums = np.zeros((num_classes, x.shape[1]))
    np.add.at(sums, y[keep], x[keep])
    counts = np.bincount(y[keep], minlength=num_classes)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def nearest_centroid(
    query: np.ndarray, centroids: np.ndarray, temperature: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest-centroid classifier of the module docstring.

    Args:
        query: ``[Q, D]`` embeddings (normalised here).
        centroids: ``[C, D]`` class means (:func:`class_centroids`); zero rows never win.
        temperature: ``0``: the confidence is the cosine; ``T > 0``: the softmax probability.

    Returns:
        ``labels [Q]`` (class ids, ``-1`` when no class has a centroid) and ``confidence [Q]``.
    """
    q = np.asarray(query, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    mu = np.asarray(centroids, dtype=np.float64)
    norms = np.linalg.norm(mu, axis=1)
    if not (norms > 0).any():
        return np.full(len(q), -1, dtype=np.int64), np.zeros(len(q))
    cos = q @ (mu / np.maximum(norms, 1e-12)[:, None]).T
    cos[:, norms == 0] = -np.inf
    best = np.argmax(cos, axis=1)
    top = cos[np.arange(len(q)), best]
    if temperature > 0:  # softmax over the enrolled classes (exp(-inf) = 0 for the others)
        return best.astype(np.int64), 1.0 / np.exp((cos - top[:, None]) / temperature).sum(1)
    return best.astype(np.int64), top


def classify(
    method: str,
    similarities: np.ndarray,
    neighbour_labels: np.ndarray,
    query: np.ndarray | None = None,
    centroids: np.ndarray | None = None,
    k: int | None = None,
    weighted: bool = True,
    temperature: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``method="knn"`` (:func:`knn_vote` on the search results) or ``"centroid"``
    (:func:`nearest_centroid` on ``query [Q, D]``, ``centroids [C, D]`` and ``temperature``)."""
    if method == "knn":
        return knn_vote(similarities, neighbour_labels, k, weighted)
    if method == "centroid":
        if query is None or centroids is None:
            raise ValueError("method='centroid' needs the query embeddings and the centroids")
        return nearest_centroid(query, centroids, temperature)
    raise ConfigError(f"classifier={method}: unknown; choose one of {', '.join(METHODS)}")
