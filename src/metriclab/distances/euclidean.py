"""Euclidean and squared Euclidean distance, on normalised or raw embeddings."""

from __future__ import annotations

from torch import Tensor

from metriclab.distances.base import BaseDistance, pairwise_euclidean


class EuclideanDistance(BaseDistance):
    """``d_ij = ||x_i - y_j||_2`` (or its square); smaller is closer.

    Computed as ``|x|^2 + |y|^2 - 2 x.y`` with one matrix product (as ``torch.cdist`` does for
    batches above 25), clamped at 0. The square root is taken of ``max(d^2, 1e-12)``, so a zero
    distance (an item with itself) has a finite gradient instead of NaN.
    Shapes: ``[N, D], [M, D] -> [N, M]``.

    Args:
        normalize_embeddings: L2-normalise first (default; distances then lie in ``[0, 2]``).
        squared: return ``||x - y||^2`` (FaceNet's distance) instead of ``||x - y||``.
    """

    is_inverted = False

    def __init__(self, normalize_embeddings: bool = True, squared: bool = False) -> None:
        super().__init__(normalize_embeddings=normalize_embeddings)
        self.squared = squared

    def compute_mat(self, query: Tensor, ref: Tensor) -> Tensor:
        return pairwise_euclidean(query, ref, self.squared)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, squared={self.squared}"
