"""The k-NN vote and the nearest centroid equal brute-force loops over the gallery."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from metriclab.recognition.classify import class_centroids, classify, knn_vote, nearest_centroid


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _knn_loop(query, gallery, g_labels, k, weighted):
    """Brute force: every gallery similarity, sorted, the first k vote class by class."""
    preds, confs = [], []
    for q in query:
        sims = [float(np.dot(q, g)) for g in gallery]
        order = sorted(range(len(sims)), key=lambda i: (-sims[i], i))[:k]
        votes, first_rank = defaultdict(float), {}
        for rank, i in enumerate(order):
            votes[g_labels[i]] += max(sims[i], 0.0) if weighted else 1.0
            first_rank.setdefault(g_labels[i], rank)
        best = max(votes, key=lambda c: (votes[c], -first_rank[c]))
        preds.append(best)
        confs.append(votes[best] / k)
    return np.array(preds), np.array(confs)


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("k", [1, 4, 7])
def test_knn_vote_equals_a_loop(k: int, weighted: bool) -> None:
    rng = np.random.default_rng(k)
    gallery = _unit(rng.normal(size=(60, 8)))
    g_labels = rng.integers(0, 5, 60)
    query = _unit(rng.normal(size=(40, 8)))
    sims = query @ gallery.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    got = knn_vote(np.take_along_axis(sims, order, 1), g_labels[order], k, weighted)
    want = _knn_loop(query, gallery, g_labels, k, weighted)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], atol=1e-9)


def test_knn_vote_ties_unlabelled_rows_and_negative_similarities() -> None:
    sims = np.array([[0.9, 0.8, 0.7, 0.6], [0.5, 0.5, 0.4, 0.1], [-0.1, -0.2, -0.3, -0.4]])
    labels = np.array([[3, 1, 1, 3], [-1, -1, -1, -1], [2, 4, 4, 4]])
    pred, conf = knn_vote(sims, labels, weighted=False)
    assert pred.tolist() == [3, -1, 4]  # a 2-2 tie goes to the nearer neighbour's class
    np.testing.assert_allclose(conf, [0.5, 0.0, 0.75])
    pred, conf = knn_vote(sims, labels, weighted=True)
    assert pred.tolist() == [3, -1, 2] and conf[2] == 0.0  # all weights 0: the nearest's class


def test_nearest_centroid_equals_a_loop() -> None:
    rng = np.random.default_rng(3)
    gallery = rng.normal(size=(50, 6))
    g_labels = rng.integers(0, 4, 50)
    g_labels[g_labels == 2] = 1  # class 2 has no images: its centroid never wins
    query = rng.normal(size=(30, 6))
    centroids = class_centroids(gallery, g_labels, 4)
    pred, conf = nearest_centroid(query, centroids)
    for q, p, c in zip(query, pred, conf, strict=True):
        cos = {}
        for label in set(g_labels.tolist()):
            mean = _unit(gallery[g_labels == label]).mean(axis=0)
            cos[label] = float(np.dot(q, mean) / np.linalg.norm(q) / np.linalg.norm(mean))
        best = max(cos, key=cos.get)
        assert p == best and c == pytest.approx(cos[best], abs=1e-6)
    assert not np.any(pred == 2)
    mu = np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 0.5]])  # class 1: no images
    assert nearest_centroid(np.array([[-1.0, -1.0]]), mu)[0].tolist() == [0]  # not the zero row
    got = classify("centroid", None, None, query, centroids)
    np.testing.assert_array_equal(got[0], pred)
    soft_pred, soft = classify("centroid", None, None, query, centroids, temperature=0.1)
    np.testing.assert_array_equal(soft_pred, pred)
    for q, p, c in zip(query, soft_pred, soft, strict=True):
        cos = {
            label: float(np.dot(q, m) / np.linalg.norm(q) / np.linalg.norm(m))
            for label, m in ((lab, centroids[lab]) for lab in set(g_labels.tolist()))
        }
        assert c == pytest.approx(np.exp(cos[p] / 0.1) / sum(np.exp(v / 0.1) for v in cos.values()))
