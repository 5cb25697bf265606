"""Cosine similarity: the dot product of L2-normalised embeddings."""

from __future__ import annotations

from torch import Tensor

from metriclab.distances.base import BaseDistance, inner_products


class CosineSimilarity(BaseDistance):
    """``s_ij = <x_i/|x_i|, y_j/|y_j|>`` in ``[-1, 1]``; larger is closer (``is_inverted``).

    Shapes: ``[N, D], [M, D] -> [N, M]``. Always normalises (the point of cosine).
    """

    is_inverted = True

    def __init__(self) -> None:
        super().__init__(normalize_embeddings=True)

    def compute_mat(self, query: Tensor, ref: Tensor) -> Tensor:
        return inner_products(query, ref)
