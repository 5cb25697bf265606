"""Dot-product similarity on raw (or, optionally, normalised) embeddings."""

from __future__ import annotations

from torch import Tensor

from metriclab.distances.base import BaseDistance, inner_products


class DotProductSimilarity(BaseDistance):
    """``s_ij = <x_i, y_j>``; larger is closer (``is_inverted``).

    Shapes: ``[N, D], [M, D] -> [N, M]``. Default: raw embeddings (N-pair's inner product).

    Args:
        normalize_embeddings: L2-normalise first (then it equals cosine similarity).
    """

    is_inverted = True

    def __init__(self, normalize_embeddings: bool = False) -> None:
        super().__init__(normalize_embeddings=normalize_embeddings)

    def compute_mat(self, query: Tensor, ref: Tensor) -> Tensor:
        return inner_products(query, ref)
