"""nearest_neighbors: the exact order of a stable sort, whatever the chunking and backend."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eval_reference import random_data, ranked_neighbours, tied_data

from metriclab.distances.base import l2_normalize
from metriclab.search import exact, knn


def search(q: np.ndarray, g: np.ndarray | None, k: int, **kwargs) -> np.ndarray:
    qt = l2_normalize(torch.from_numpy(q))
    gt = qt if g is None else l2_normalize(torch.from_numpy(g))
    chunks = list(knn.nearest_neighbors(qt, gt, k, exclude_self=g is None, **kwargs))
    assert [start for start, _ in chunks] == sorted(start for start, _ in chunks)
    return np.concatenate([idx for _, idx in chunks])


@pytest.mark.parametrize("backend", ["faiss", "torch"])
@pytest.mark.parametrize("chunk_size", [None, 1, 5])
@pytest.mark.parametrize("self_mode", [True, False])
def test_order_equals_stable_sort(backend: str, chunk_size: int | None, self_mode: bool) -> None:
    q, _ = tied_data(120, 8, 3, seed=0, pool=4)
    g = None if self_mode else tied_data(90, 8, 3, seed=1, pool=4)[0]
    want = np.stack([order[:7] for order in ranked_neighbours(q, g)])
    np.testing.assert_array_equal(search(q, g, 7, backend=backend, chunk_size=chunk_size), want)


def test_query_rows_and_k_capped_at_gallery() -> None:
    q, _ = random_data(30, 8, 3, seed=2)
    q = l2_normalize(torch.from_numpy(q)).numpy()
    rows = np.array([4, 0, 29])
    got = np.concatenate(
        [
            idx
            for _, idx in knn.nearest_neighbors(
                *(2 * [torch.from_numpy(q)]), 50, query_rows=rows, exclude_self=True
            )
        ]
    )
    want = np.stack([ranked_neighbours(q, None)[i] for i in rows])
    assert got.shape == (3, 29)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_boundary_ties_are_searched_again(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    widths = []
    rank = exact.rank_with_ties
    monkeypatch.setattr(
        exact, "rank_with_ties", lambda q, g, s, *a: widths.append(s.shape[1]) or rank(q, g, s, *a)
    )
    q, _ = tied_data(60, 8, 3, seed=3, pool=3)  # ~20 copies per direction: every row straddles
    want = np.stack([order[:4] for order in ranked_neighbours(q, None)])
    np.testing.assert_array_equal(search(q, None, 4, backend=backend), want)
    assert widths[0] == 6 and max(widths) == 24  # 6 candidates, then 24 for the open rows


def test_no_tie_no_recompute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact, "exact_topk", lambda *a: pytest.fail("unexpected recompute"))
    q, _ = random_data(200, 16, 3, seed=4)
    want = np.stack([order[:5] for order in ranked_neighbours(q, None)])
    np.testing.assert_array_equal(search(q, None, 5), want)


def test_unknown_backend() -> None:
    x = torch.ones(3, 2)
    with pytest.raises(ValueError, match="backend must be"):
        list(knn.nearest_neighbors(x, x, 1, backend="annoy"))
