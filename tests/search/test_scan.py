"""The one-pass block scan against a numpy comparison of the same scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metriclab.search import rescore, scan

pytestmark = pytest.mark.skipif(scan.numba is None, reason="numba is not installed")


def pairs(mask: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(*np.nonzero(mask), strict=True))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_scan_finds_every_score_at_or_above_its_thresholds(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    block = (torch.rand(70, 300, generator=gen) * 2 - 1).to(dtype)
    block[3, 5] = float("-inf")
    block[4, :] = -0.0
    row_theta = torch.rand(70, generator=gen) * 0.2 + 0.8
    row_theta[:3] = -0.5  # negative thresholds: the key transform, and > 64 hits per row
    row_theta[4] = 0.0  # -0.0 >= 0.0 holds
    row_theta[5] = float("inf")  # an overflowed row: nothing
    col_theta = torch.rand(300, generator=gen) * 0.2 + 0.8
    col_theta[7] = -1.0  # a column with every row a hit
    row_theta[6] = float(block[6, 10].float())  # a threshold equal to a score
    (ri, rj), (cj, ci) = scan.scan_block(block, row_theta, col_theta)
    s = block.float().numpy()
    want_rows = pairs(s >= row_theta.numpy()[:, None])
    want_cols = pairs((s >= col_theta.numpy()[None, :]).T)
    got_rows, got_cols = set(zip(ri, rj, strict=True)), set(zip(cj, ci, strict=True))
    assert want_rows <= got_rows and want_cols <= got_cols
    ulp = 3 * (2**-7 if dtype == torch.bfloat16 else 2**-23)  # "a few just below"
    for i, j in got_rows - want_rows:  # extras only just below a threshold
        assert s[i, j] >= row_theta[i] - ulp * abs(row_theta[i]) - 1e-30
    for j, i in got_cols - want_cols:
        assert s[i, j] >= col_theta[j] - ulp * abs(col_theta[j]) - 1e-30
    assert list(ri) == sorted(ri) and list(cj) == sorted(cj)  # rows ascending, as add() needs
    assert (6, 10) in got_rows and not any(i == 5 for i in ri)


def test_rows_only() -> None:
    block = torch.tensor([[0.5, 0.9], [0.1, 0.2]]).bfloat16()
    rows, cols = scan.scan_block(block, torch.tensor([0.6, 0.15]), None)
    assert cols is None and list(zip(*rows, strict=True)) == [(0, 1), (1, 1)]


def test_float64_rescoring_is_the_same_for_equal_rows_anywhere() -> None:
    """Equal rows at any position (any memory alignment, D = 7) get bit-equal scores."""
    rng = np.random.default_rng(1)
    base = rng.standard_normal((5, 7)).astype(np.float32)
    g = torch.from_numpy(np.concatenate([base, rng.standard_normal((3, 7)), base]).astype("f4"))
    q = torch.from_numpy(base[::-1].copy())
    dense = rescore.dense_dots(q, g).numpy()
    np.testing.assert_array_equal(dense[:, :5], dense[:, 8:])
    r, c = np.nonzero(np.ones_like(dense, dtype=bool))
    pair = rescore.pair_dots(q, g, torch.from_numpy(r), torch.from_numpy(c)).numpy()
    np.testing.assert_array_equal(pair, dense.ravel())
    exact = q.double().numpy() @ g.double().numpy().T
    np.testing.assert_allclose(dense, exact, rtol=0, atol=1e-14)
