"""retrieval_metrics against the brute-force loop reference of eval_reference.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eval_reference import random_data, reference_metrics, tied_data

from metriclab.metrics import retrieval_metrics

KEYS = ["recall@1", "recall@2", "recall@4", "recall@8", "precision@1", "r_precision", "map@r"]


def assert_close(got: dict, want: dict, tol: float = 1e-6) -> None:
    assert list(got) == list(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=tol), key


@pytest.mark.parametrize("backend", ["faiss", "torch"])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_self_mode_matches_reference(backend: str, seed: int) -> None:
    x, y = random_data(400, 16, 60, seed)
    got = retrieval_metrics(x, y, backend=backend)
    assert list(got) == KEYS
    assert_close(got, reference_metrics(x, y))


@pytest.mark.parametrize("backend", ["faiss", "torch"])
@pytest.mark.parametrize("chunk_size", [None, 7])
def test_ties_broken_by_lower_index(backend: str, chunk_size: int | None) -> None:
    x, y = tied_data(300, 8, 5, seed=2)  # duplicates rank above the query itself
    got = retrieval_metrics(x, y, ks=(1, 3, 10), backend=backend, chunk_size=chunk_size)
    assert_close(got, reference_metrics(x, y, ks=(1, 3, 10)))


def test_singleton_classes_are_left_out() -> None:
    x, y = random_data(200, 8, 30, seed=3)
    y = np.concatenate([y, [1000, 1001, 1002]])  # three lone queries
    x = np.concatenate([x, np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)])
    got = retrieval_metrics(x, y)
    assert_close(got, reference_metrics(x, y))
    with pytest.raises(ValueError, match="no query has a same-label item"):
        retrieval_metrics(x[:5], np.arange(5))


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_query_gallery_mode(backend: str) -> None:
    q, ql = tied_data(150, 8, 12, seed=4)
    g, gl = tied_data(250, 8, 12, seed=5)
    ql[:3] = 99  # queries whose class is absent from the gallery
    got = retrieval_metrics(q, ql, g, gl, backend=backend, chunk_size=16)
    assert_close(got, reference_metrics(q, ql, g, gl))


def test_fp16_numpy_and_bf16_torch_inputs() -> None:
    x, y = random_data(300, 16, 40, seed=6)
    half = x.astype(np.float16)
    assert_close(retrieval_metrics(half, y), reference_metrics(half.astype(np.float32), y))
    bf16 = torch.from_numpy(x).bfloat16()
    want = reference_metrics(bf16.float().numpy(), y)
    assert_close(retrieval_metrics(bf16, torch.from_numpy(y)), want)
    assert_close(retrieval_metrics(bf16, torch.from_numpy(y), backend="torch"), want)


def test_torch_input_equals_numpy_input() -> None:
    x, y = random_data(300, 16, 40, seed=7)
    assert retrieval_metrics(torch.from_numpy(x), torch.from_numpy(y)) == retrieval_metrics(x, y)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_chunked_equals_one_shot(backend: str) -> None:
    x, y = random_data(300, 16, 50, seed=8)
    one_shot = retrieval_metrics(x, y, backend=backend, chunk_size=10_000)
    for chunk_size in (3, 64):
        assert_close(retrieval_metrics(x, y, backend=backend, chunk_size=chunk_size), one_shot)


def test_torch_backend_equals_faiss() -> None:
    x, y = random_data(600, 32, 80, seed=9)
    assert_close(retrieval_metrics(x, y, backend="torch"), retrieval_metrics(x, y), tol=1e-12)


def test_gallery_smaller_than_k_and_large_r() -> None:
    x, y = random_data(40, 4, 2, seed=10)  # R ~ 20 > max(ks)
    assert_close(retrieval_metrics(x, y, ks=(1, 100)), reference_metrics(x, y, ks=(1, 100)))
    q, ql = random_data(5, 4, 2, seed=11)
    g, gl = random_data(3, 4, 2, seed=12)
    got = retrieval_metrics(q, ql, g, gl, ks=(1, 8))
    assert_close(got, reference_metrics(q, ql, g, gl, ks=(1, 8)))


def test_perfect_embeddings_score_one() -> None:
    y = np.repeat(np.arange(10), 5)
    x = np.eye(10, dtype=np.float32)[y] + 0.01 * np.random.default_rng(0).random((50, 10))
    assert all(v == pytest.approx(1.0) for v in retrieval_metrics(x, y).values())


def test_zero_vectors_are_allowed() -> None:
    x, y = random_data(60, 4, 6, seed=13)
    x[:10] = 0.0
    assert_close(retrieval_metrics(x, y), reference_metrics(x, y))
