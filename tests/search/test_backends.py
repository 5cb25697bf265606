"""Backend choice, the faiss-GPU path (with a stand-in GPU index), and the re-scoring gate."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
import torch
from eval_reference import random_data, ranked_neighbours, reference_metrics, tied_data

from metriclab.distances.base import l2_normalize
from metriclab.metrics import retrieval_metrics
from metriclab.search import backends, exact, knn


def test_auto_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "faiss_has_gpu", lambda: False)
    assert backends.resolve_backend("auto", on_cuda=False) == "faiss"
    assert backends.resolve_backend("auto", on_cuda=True) == "torch"
    monkeypatch.setattr(backends, "faiss_has_gpu", lambda: True)
    assert backends.resolve_backend("auto", on_cuda=True, k=10) == "faiss_gpu"
    assert backends.resolve_backend("auto", on_cuda=True, k=5000) == "torch"  # GPU k limit
    assert backends.resolve_backend("torch", on_cuda=False) == "torch"
    with pytest.raises(ValueError, match="backend must be one of auto, faiss, faiss_gpu, torch"):
        backends.resolve_backend("annoy", on_cuda=False)


def test_faiss_gpu_needs_gpu_faiss(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "faiss_has_gpu", lambda: False)
    x = torch.eye(3)
    with pytest.raises(ValueError, match="needs a FAISS build with GPU support"):
        list(knn.nearest_neighbors(x, x, 1, backend="faiss_gpu"))


@pytest.fixture
def stand_in_gpu_faiss(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """faiss-gpu's classes replaced by CPU ones; records the rows of each search."""
    searched: list[int] = []

    class GpuIndexFlatIP(faiss.IndexFlatIP):
        def __init__(self, resources, d: int, config) -> None:
            super().__init__(d)
            assert config.device == 0 and resources is not None

        def search(self, x, k):
            searched.append(len(x))
            return super().search(x, k)

    monkeypatch.setattr(backends, "faiss_has_gpu", lambda: True)
    monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
    monkeypatch.setattr(faiss, "GpuIndexFlatConfig", lambda: type("C", (), {})(), raising=False)
    monkeypatch.setattr(faiss, "GpuIndexFlatIP", GpuIndexFlatIP, raising=False)
    return searched


@pytest.mark.parametrize("self_mode", [True, False])
def test_faiss_gpu_path_equals_reference(stand_in_gpu_faiss: list[int], self_mode: bool) -> None:
    q, ql = tied_data(150, 8, 6, seed=0, pool=5)
    g, gl = (None, None) if self_mode else tied_data(120, 8, 6, seed=1, pool=5)
    got = retrieval_metrics(q, ql, g, gl, ks=(1, 4), backend="faiss_gpu", chunk_size=40)
    want = reference_metrics(q, ql, g, gl, ks=(1, 4))
    assert got == pytest.approx(want, abs=1e-9)
    assert stand_in_gpu_faiss[0] == 40 and max(stand_in_gpu_faiss) == 40  # chunked


def test_only_rows_with_close_candidates_are_rescored(monkeypatch: pytest.MonkeyPatch) -> None:
    rescored = []
    rescore = exact.rescore_ties
    monkeypatch.setattr(
        exact, "rescore_ties", lambda q, *a: rescored.append(len(q)) or rescore(q, *a)
    )
    x, _ = random_data(300, 16, 3, seed=5)
    x[7] = x[3]  # one exact duplicate pair: rows 3 and 7 tie for every query
    xt = l2_normalize(torch.from_numpy(x))
    chunks = knn.nearest_neighbors(xt, xt, 6, exclude_self=True, backend="faiss")
    idx = np.concatenate([i for _, i in chunks])
    want = np.stack([order[:6] for order in ranked_neighbours(x, None)])
    np.testing.assert_array_equal(idx, want)
    close = sum(rescored)
    assert 0 < close < 300  # only the rows where 3 and 7 (or other near-equal pairs) are found
    hits = np.flatnonzero((want == 3).any(axis=1) | (want == 7).any(axis=1))
    assert close >= len(hits)
