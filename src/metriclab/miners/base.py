"""The base of every miner: ``miner(embeddings [B, D], labels [B]) -> index tuple``."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from metriclab.distances import BaseDistance, EuclideanDistance
from metriclab.losses.base import full_precision


class BaseMiner(nn.Module):
    """Selects informative pairs or triplets of a batch; no gradient flows through it.

    ``forward`` returns ``(a, p, n)`` triplets or ``(a1, p, a2, n)`` pairs (int64 ``[T]``
    each), computed in fp32 with autocast off. Subclasses implement :meth:`mine`, which gets the
    ``[B, B]`` matrix as a *distance* (a similarity is negated, so smaller is always closer).

    Args:
        distance: the distance to mine with (default Euclidean on normalised embeddings).
    """

    def __init__(self, distance: BaseDistance | None = None) -> None:
        super().__init__()
        self.distance = EuclideanDistance() if distance is None else distance

    @torch.no_grad()
    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, ...]:
        dist, labels = self.distance_matrix(embeddings, labels)
        return tuple(t.long() for t in self.mine(dist, labels))

    def distance_matrix(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """``(dist [B, B], labels [B])``: fp32, no graph, smaller = closer, on one device."""
        if embeddings.ndim != 2 or len(embeddings) != len(labels):
            raise ValueError(
                f"expected embeddings [B, D] and labels [B]; got {tuple(embeddings.shape)} and "
                f"{tuple(labels.shape)}"
            )
        labels = labels.to(embeddings.device)
        with full_precision(embeddings), torch.no_grad():
            dist = self.distance.as_distance(self.distance(embeddings.detach().float()))
        return dist, labels

    def mine(self, dist: Tensor, labels: Tensor) -> tuple[Tensor, ...]:
        raise NotImplementedError
