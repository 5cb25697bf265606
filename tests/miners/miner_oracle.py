"""Shared helpers of the miner tests."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

logging.getLogger("PML").setLevel(logging.ERROR)
BATCH_SIZES = (32, 128)


def random_batch(
    batch: int, dim: int = 64, per_class: int = 4, seed: int = 0
) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(batch, dim, generator=gen)
    labels = (torch.arange(batch) // per_class)[torch.randperm(batch, generator=gen)]
    return embeddings, labels


def as_set(*columns: Tensor) -> set[tuple[int, ...]]:
    """The rows of ``columns`` (index tensors of equal length) as a set of tuples."""
    return set(zip(*(c.tolist() for c in columns), strict=True))
