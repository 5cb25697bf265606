"""Cross-batch memory, XBM (Wang, Zhang, Huang & Scott, CVPR 2020)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from metriclab.errors import ConfigError
from metriclab.losses.base import PairLoss, complete_loss, full_precision
from metriclab.losses.ranges import at_least, inner_loss_keys
from metriclab.tuples import IndicesTuple, all_pairs_masks


class CrossBatchMemory(nn.Module):
    """A pair-based loss between the batch and a FIFO memory of past embeddings.

    Each step enqueues the batch's detached embeddings (overwriting the oldest), then computes
    the wrapped loss with the batch as anchors and the whole memory (this batch included) as the
    other side of every pair; an item is never paired with its own slot. Embeddings drift slowly
    late in training, so the memory supplies many more informative pairs than one batch.
    Matches pytorch-metric-learning's ``CrossBatchMemory`` without a miner.
    Shapes: ``embeddings [B, D]`` (``B <= memory_size``), ``labels [B]`` -> scalar.
    The memory is a set of buffers: it follows the module's device and is checkpointed.

    Args:
        metric: a pair-based loss (contrastive, triplet, multisim, circle) or a factory of one.
        embedding_size: filled in by the pipeline (head width).
        memory_size: number of past embeddings kept (paper: up to the dataset size).
    """

    accepts_miner = False
    #: The memory holds past batches' items of the same class: positives without ``m >= 2``.
    needs_positive_pairs = False

    def __init__(
        self,
        metric: nn.Module | Callable[..., nn.Module],
        embedding_size: int,
        memory_size: int = 1024,
    ) -> None:
        super().__init__()
        with inner_loss_keys():
            self.metric = complete_loss(metric, embedding_size=embedding_size)
        if not isinstance(self.metric, PairLoss):
            raise ConfigError(
                f"loss=xbm wraps a pair-based loss (contrastive, triplet, multisim, circle), "
                f"got {type(self.metric).__name__}; use e.g. loss@loss.metric=contrastive"
            )
        memory_size = at_least(
            "loss.memory_size",
            memory_size,
            1,
            "the cross-batch memory size (past embeddings kept, at least a batch)",
            1024,
        )
        self.memory_size = memory_size
        self.register_buffer("embedding_memory", torch.zeros(memory_size, embedding_size))
        self.register_buffer("label_memory", torch.zeros(memory_size, dtype=torch.long))
        self.register_buffer("queue_index", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.bool))

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: IndicesTuple | None = None
    ) -> Tensor:
        if indices_tuple is not None:
            raise ValueError("CrossBatchMemory pairs the batch with its memory; use miner=none")
        batch = len(embeddings)
        if batch > self.memory_size:
            raise ValueError(
                f"batch of {batch} exceeds memory_size={self.memory_size}; raise loss.memory_size"
            )
        labels = labels.to(embeddings.device).long()
        slots = self.enqueue(embeddings.detach(), labels)
        size = self.memory_size if bool(self.filled) else int(self.queue_index)
        memory, memory_labels = self.embedding_memory[:size], self.label_memory[:size]
        pos, neg = all_pairs_masks(labels, memory_labels)
        pos[torch.arange(batch, device=pos.device), slots] = False  # not with itself
        with full_precision(embeddings):
            mat = self.metric.distance(embeddings.float(), memory)
            return self.metric.pair_loss(mat, pos, neg)

    @torch.no_grad()
    def enqueue(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """Write the batch at the queue head; return the memory slot of each item ``[B]``."""
        start = int(self.queue_index)
        slots = (start + torch.arange(len(labels), device=labels.device)) % self.memory_size
        self.embedding_memory[slots] = embeddings.to(self.embedding_memory.dtype)
        self.label_memory[slots] = labels
        end = start + len(labels)
        self.queue_index.fill_(end % self.memory_size)
        if end >= self.memory_size:
            self.filled.fill_(True)
        return slots

    def extra_repr(self) -> str:
        return f"memory_size={self.memory_size}"
