"""The frontier's metrics equal exact metrics computed from the decoded vectors (or codes)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from metriclab.deployment.frontier import build, measure, neighbour_metrics, pareto, search, unit


def clustered(n: int = 400, d: int = 32, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, d))
    labels = rng.integers(0, classes, n)
    return unit(centers[labels] + 0.9 * rng.normal(size=(n, d))), labels


def loop_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Self-gallery R@1 and MAP@R from a full score matrix, one query at a time."""
    r1, aps = [], []
    for i in range(len(scores)):
        row = scores[i].copy()
        row[i] = -np.inf
        order = [j for j in np.argsort(-row, kind="stable") if j != i]
        rel = [labels[j] == labels[i] for j in order]
        big_r = int(sum(labels == labels[i]) - 1)
        r1.append(float(rel[0]))
        hits = 0
        ap = 0.0
        for rank, hit in enumerate(rel[:big_r], start=1):
            hits += hit
            ap += hit * hits / rank
        aps.append(ap / big_r)
    return {"recall@1": float(np.mean(r1)), "map@r": float(np.mean(aps))}


@pytest.mark.parametrize("code", ["fp32", "fp16", "int8", "pq8"])
def test_scalar_and_pq_codes_score_like_their_decoded_vectors(code: str) -> None:
    x, y = clustered()
    built, _ = build(code, "flat", x, {})
    decoded = built.sa_decode(built.sa_encode(x)) if code != "fp32" else x
    if code != "fp32":
        assert not np.allclose(decoded, x)  # the codes do lose something
    k = int(np.bincount(y).max())
    ids, _ = search(built, code, x, x, k + 1)
    found = neighbour_metrics(ids, y, y, (1,), self_gallery=True)
    expected = loop_metrics(x @ decoded.T, y)
    assert found["recall@1"] == pytest.approx(expected["recall@1"], abs=1e-9)
    assert found["map@r"] == pytest.approx(expected["map@r"], abs=2e-3)  # near-ties may swap


def test_binary_codes_rank_by_hamming_and_rescoring_by_the_floats() -> None:
    x, y = clustered()
    bits = (x > 0).astype(np.int32)
    hamming = (bits[:, None, :] != bits[None, :, :]).sum(-1)
    k = int(np.bincount(y).max())
    built, _ = build("binary", "flat", x, {})
    ids, _ = search(built, "binary", x, x, k + 1)
    # exact on the codes: each returned neighbour is at the row's true Hamming rank distance
    ham = np.take_along_axis(hamming, ids, axis=1)
    reference = np.sort(hamming, axis=1)[:, : k + 1]
    assert np.array_equal(ham, reference)
    rescored, _ = search(built, "binary+rescore", x, x, k + 1, rescore=400)  # all candidates
    assert neighbour_metrics(rescored, y, y, (1,), True)["recall@1"] == pytest.approx(
        loop_metrics(x @ x.T, y)["recall@1"]
    )


def test_measure_reports_every_point_with_exact_as_reference() -> None:
    x, y = clustered(n=600)
    points = measure(x, y, dims=(8, 32), threads=1)
    exact = {p.dims: p for p in points if (p.code, p.index) == ("fp32", "flat")}
    assert set(exact) == {8, 32} and all(p.kept == 1.0 for p in exact.values())
    full = exact[32].metrics
    reference = loop_metrics(x @ x.T, y)
    assert full["recall@1"] == pytest.approx(reference["recall@1"])
    assert full["map@r"] == pytest.approx(reference["map@r"], abs=1e-9)
    kinds = {(p.code, p.index) for p in points}
    assert {
        ("int8", "flat"),
        ("binary+rescore", "flat"),
        ("fp32", "ivf"),
        ("fp32", "hnsw"),
    } <= kinds
    byte_of = {(p.dims, p.code): p.bytes_per_vector for p in points if p.index == "flat"}
    assert byte_of[(32, "fp32")] == 128 and byte_of[(32, "int8")] == 32
    assert byte_of[(32, "binary")] == 4 and byte_of[(8, "pq2")] == 2
    front = pareto(points)
    assert exact[32] in front or any(p.metrics["recall@1"] >= full["recall@1"] for p in front)
    cheapest = min(points, key=lambda p: p.bytes_per_vector)
    assert (
        min(front, key=lambda p: p.bytes_per_vector).bytes_per_vector == cheapest.bytes_per_vector
    )


def test_approximate_index_may_miss_itself() -> None:
    ids = np.array([[2, 1, 0], [0, -1, 5]])  # query 0 ranked itself last; query 1 missed itself
    labels = np.array([0, 0, 1, 1, 1, 0])
    found = neighbour_metrics(ids, labels[:2], labels, (1, 2), self_gallery=True)
    # query 0: [2, 1] -> miss, hit; query 1: [0, -1] -> hit (0 has label 0 == label of 1)
    assert found["recall@1"] == pytest.approx(0.5) and found["recall@2"] == pytest.approx(1.0)


def test_faiss_threads_are_restored() -> None:
    before = faiss.omp_get_max_threads()
    measure(*clustered(n=300, d=8), threads=1 if before > 1 else 2)
    assert faiss.omp_get_max_threads() == before
