"""The blocked search: exact neighbours on near-tie data, in every precision and code path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eval_reference import fp32_unit_neighbours, near_tied_data, reference_metrics, tied_data

from metriclab.distances.base import l2_normalize
from metriclab.metrics import retrieval_metrics
from metriclab.search import blocked, exact, knn, rescore, scan
from metriclab.search import plan as paths


def neighbours(q, g, k, **kwargs) -> np.ndarray:
    qt = l2_normalize(torch.from_numpy(q))
    gt = qt if g is None else l2_normalize(torch.from_numpy(g))
    chunks = knn.nearest_neighbors(qt, gt, k, exclude_self=g is None, **kwargs)
    return np.concatenate([idx for _, idx in chunks])


@pytest.fixture(params=["numba", "torch"])
def code_path(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """``torch``: the scan and the re-scoring that CUDA tensors get, run on the CPU."""
    if request.param == "torch":
        monkeypatch.setattr(scan, "available", lambda block: False)
        monkeypatch.setattr(rescore, "available", lambda x: False)
    return request.param


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("self_mode", [True, False])
@pytest.mark.parametrize("block", [64, None])
def test_near_ties_give_the_fp32_neighbours(
    precision: str, self_mode: bool, block: int | None, code_path: str
) -> None:
    q, _ = near_tied_data(600, 16, 5, seed=0)
    g = None if self_mode else near_tied_data(500, 16, 5, seed=1)[0]
    got = neighbours(q, g, 7, backend="blocked", precision=precision, chunk_size=block)
    if code_path == "numba":  # float64 re-scoring: the float64 brute force on the same rows
        np.testing.assert_array_equal(got, fp32_unit_neighbours(q, g, 7))
    # either arithmetic: the reference (float32 FAISS search + the same tie re-scoring)
    np.testing.assert_array_equal(got, neighbours(q, g, 7, backend="faiss"))


def test_bf16_scores_alone_get_the_near_ties_wrong() -> None:
    """The data above is hard: ranking by the bf16 scores themselves is wrong in most rows."""
    q, _ = near_tied_data(600, 16, 5, seed=0)
    x = l2_normalize(torch.from_numpy(q)).bfloat16()
    s = (x @ x.T).float()
    s.fill_diagonal_(float("-inf"))
    cheap = s.sort(dim=1, descending=True, stable=True).indices[:, :7].numpy()
    wrong = (cheap != fp32_unit_neighbours(q, None, 7)).any(axis=1).mean()
    assert wrong > 0.5


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_metrics_equal_the_reference(precision: str, code_path: str) -> None:
    x, y = near_tied_data(500, 16, 40, seed=2)
    got = retrieval_metrics(x, y, backend="blocked", precision=precision, chunk_size=128)
    assert got == pytest.approx(retrieval_metrics(x, y, backend="faiss"), abs=1e-12)
    if code_path == "numba":  # float64 re-scoring: the float64 loop on the rows searched
        unit = l2_normalize(torch.from_numpy(x)).numpy()
        want = reference_metrics(unit, y, normalize=False)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-6), key


def test_overflowing_rows_are_recomputed_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    topk = exact.exact_topk
    monkeypatch.setattr(exact, "exact_topk", lambda q, *a: calls.append(len(q)) or topk(q, *a))
    q, _ = tied_data(200, 8, 3, seed=3, pool=3)  # ~67 exact copies per row: more than cap
    for precision in ("fp32", "bf16"):
        got = neighbours(q, None, 5, backend="blocked", precision=precision, chunk_size=32)
        np.testing.assert_array_equal(got, fp32_unit_neighbours(q, None, 5))
    assert sum(calls) == 400  # every row overflowed its 58 slots, in both precisions


def test_candidate_buffers_hold_the_near_ties_without_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exact, "exact_topk", lambda *a: pytest.fail("unexpected fallback"))
    q, _ = near_tied_data(600, 16, 5, seed=4)  # ~30 rows per direction: within the 2k + 48 slots
    got = neighbours(q, None, 7, backend="blocked", precision="bf16", chunk_size=100)
    np.testing.assert_array_equal(got, fp32_unit_neighbours(q, None, 7))


def test_self_gallery_scores_each_block_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scored: list[int] = []
    cheap = blocked.cheap_scores
    monkeypatch.setattr(
        blocked, "cheap_scores", lambda a, b, p: scored.append(len(a) * len(b)) or cheap(a, b, p)
    )
    x = l2_normalize(torch.randn(1000, 8, generator=torch.Generator().manual_seed(0)))
    blocked.blocked_knn(x, None, 5, "fp32", block=100)
    assert sum(scored) == 1000 * 1000 // 2 + 1000 * 100 // 2  # upper triangle + diagonal blocks
    scored.clear()
    blocked.blocked_knn(x[:300], x, 5, "fp32", block=100)
    assert sum(scored) == 300 * 1000  # query -> gallery: every block


def test_k_equal_to_the_gallery_and_tiny_blocks() -> None:
    q, _ = near_tied_data(30, 4, 3, seed=5, pool=3)
    np.testing.assert_array_equal(
        neighbours(q, None, 50, backend="blocked", precision="bf16", chunk_size=4),
        fp32_unit_neighbours(q, None, 29),
    )
    g, _ = near_tied_data(9, 4, 3, seed=6, pool=3)
    np.testing.assert_array_equal(
        neighbours(q, g, 9, backend="blocked", chunk_size=2), fp32_unit_neighbours(q, g, 9)
    )


def test_zero_rows_and_negative_thresholds() -> None:
    x, y = near_tied_data(120, 2, 6, seed=7, pool=40)  # D = 2: the k-th scores are negative
    x[:5] = 0.0
    for precision in ("fp32", "bf16"):
        got = neighbours(x, None, 30, backend="blocked", precision=precision, chunk_size=16)
        np.testing.assert_array_equal(got, neighbours(x, None, 30, backend="faiss"))


def test_plan_describes_the_path_once() -> None:
    x, y = near_tied_data(200, 8, 20, seed=8)
    seen: list[str] = []
    retrieval_metrics(x, y, on_search=seen.append)
    assert seen == [
        "blocked self-gallery (upper triangle), fp32 candidates + exact re-score, on cpu"
    ]
    seen.clear()
    retrieval_metrics(x, y, x[:50], y[:50], on_search=seen.append)
    assert seen == ["faiss (exact float32 search), on cpu"]
    assert paths.SearchPlan("torch", "fp32", False, "cuda").describe().endswith("on cuda")
