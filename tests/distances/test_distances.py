"""Distances against pytorch-metric-learning's, value and gradient, with and without a reference."""

from __future__ import annotations

import pytest
import torch

from metriclab.distances import CosineSimilarity, DotProductSimilarity, EuclideanDistance

pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

PAIRS = {
    "cosine": (CosineSimilarity, lambda: pml_distances.CosineSimilarity()),
    "dot": (
        DotProductSimilarity,
        lambda: pml_distances.DotProductSimilarity(normalize_embeddings=False),
    ),
    "dot_normalised": (
        lambda: DotProductSimilarity(True),
        lambda: pml_distances.DotProductSimilarity(),
    ),
    "euclidean": (EuclideanDistance, lambda: pml_distances.LpDistance()),
    "euclidean_raw": (
        lambda: EuclideanDistance(normalize_embeddings=False),
        lambda: pml_distances.LpDistance(normalize_embeddings=False),
    ),
    "squared": (lambda: EuclideanDistance(squared=True), lambda: pml_distances.LpDistance(power=2)),
    "squared_raw": (
        lambda: EuclideanDistance(False, squared=True),
        lambda: pml_distances.LpDistance(normalize_embeddings=False, power=2),
    ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("batch", [32, 128])
def test_equals_pml(name, batch):
    ours_fn, theirs_fn = PAIRS[name]
    ours, theirs = ours_fn(), theirs_fn()
    assert ours.is_inverted == theirs.is_inverted
    gen = torch.Generator().manual_seed(batch)
    q, r = torch.randn(batch, 32, generator=gen), torch.randn(batch // 2, 32, generator=gen)
    weight = torch.randn(batch, batch // 2, generator=gen)
    results = []
    for fn in (ours, theirs):
        qq, rr = q.clone().requires_grad_(True), r.clone().requires_grad_(True)
        mat = fn(qq, rr)
        (mat * weight).sum().backward()
        results.append((mat.detach(), qq.grad, rr.grad, fn(q).detach()))
    for mine, ref in zip(*results, strict=True):
        torch.testing.assert_close(mine, ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))


def test_self_distance_is_zero_with_a_finite_gradient():
    x = torch.randn(6, 4).repeat(2, 1).requires_grad_(True)  # every row twice
    d = EuclideanDistance()(x)
    # |x|^2 + |y|^2 - 2x.y cancels to ~1e-7, whose root is ~3e-4 (torch.cdist does the same)
    assert d.diagonal().max() < 1e-3 and d[0, 6] < 1e-3
    d.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_rejects_non_matrix_input():
    with pytest.raises(ValueError, match="2-D"):
        CosineSimilarity()(torch.randn(3, 4, 5))
