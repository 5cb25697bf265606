"""Batch samplers: M-per-class (P classes x m samples) and plain random batches.

Both are *batch* samplers (they yield lists of dataset indices), seeded, re-shuffled per epoch by
``set_epoch``, and split across ``num_replicas`` processes by whole batches: every rank draws the
same global sequence of batches from ``(seed, epoch)`` and keeps every ``num_replicas``-th one, so
ranks never share a batch and together see one epoch.

Lightning calls ``set_epoch`` at the start of every training epoch, but only on
``dataloader.sampler`` and ``dataloader.batch_sampler.sampler``, never on a custom batch sampler
itself. The samplers therefore answer ``.sampler`` with themselves: Lightning's own call reaches
them, with the epoch it restores on resume (``tests/data/test_sampler_epochs.py`` records the
batches of a real multi-epoch run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from metriclab.errors import ConfigError

log = logging.getLogger("metriclab.data")


class _EpochBatchSampler(Sampler[list[int]]):
    """What both samplers share: seeding, epochs, the per-rank share of the batches."""

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        seed: int,
        num_replicas: int,
        rank: int,
        batches_per_epoch: int | None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"data.batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        total = batches_per_epoch or max(1, num_items // batch_size)
        self.batches_per_rank = max(1, total // num_replicas)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches :meth:`__iter__` yields (same on every rank)."""
        self.epoch = int(epoch)

    @property
    def sampler(self) -> _EpochBatchSampler:
        """This sampler: where Lightning looks for ``set_epoch`` (``batch_sampler.sampler``)."""
        return self

    def __len__(self) -> int:
        return self.batches_per_rank

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = self.global_batches(rng, self.batches_per_rank * self.num_replicas)
        for batch in batches[self.rank :: self.num_replicas]:
            yield batch.tolist()

    def global_batches(self, rng: np.random.Generator, count: int) -> list[np.ndarray]:
        raise NotImplementedError


class MPerClassSampler(_EpochBatchSampler):
    """Batches of ``P = batch_size / m`` distinct classes with ``m`` samples each.

    Classes are visited in a shuffled cycle (every class appears once before any appears twice,
    a class never twice in one batch) and each class's items in a shuffled cycle of their own,
    so an epoch of ``N / batch_size`` batches covers the classes evenly and, where the batches
    allow, every item. A class with fewer than ``m`` items is sampled with replacement (reported
    once, at construction).

    Args:
        labels: ``[N]`` class label of each dataset item.
        batch_size: items per batch, a multiple of ``m``.
        m: samples per class in a batch.
        seed: the seed of every epoch's draw (with the epoch number).
        num_replicas, rank: processes sharing the epoch (DDP) and this one's rank.
        batches_per_epoch: batches per epoch over all ranks (default ``N // batch_size``).
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        batch_size: int,
        m: int = 4,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        batches_per_epoch: int | None = None,
    ) -> None:
        labels = np.asarray(labels)
        super().__init__(len(labels), batch_size, seed, num_replicas, rank, batches_per_epoch)
        if m < 1:
            raise ConfigError(f"sampler.m must be >= 1, got {m}")
        if batch_size % m:
            raise ConfigError(
                f"data.batch_size={batch_size} is not a multiple of sampler.m={m}; "
                f"use data.batch_size={max(m, batch_size // m * m)} or another multiple of {m}"
            )
        self.m = int(m)
        self.classes_per_batch = batch_size // m
        classes, inverse = np.unique(labels, return_inverse=True)
        if len(classes) < self.classes_per_batch:
            raise ConfigError(
                f"a batch of {batch_size} with sampler.m={m} needs {self.classes_per_batch} "
                f"classes but the training split has {len(classes)}; lower data.batch_size to "
                f"at most {len(classes) * m} or raise sampler.m"
            )
        order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse, minlength=len(classes))
        self.members = np.split(order, np.cumsum(counts)[:-1])
        small = int((counts < m).sum())
        if small:
            log.warning(
                "m_per_class: %d of %d classes have fewer than m=%d items and are sampled with "
                "replacement (smallest: %d)",
                small,
                len(classes),
                m,
                int(counts.min()),
            )

    def global_batches(self, rng: np.random.Generator, count: int) -> list[np.ndarray]:
        num_classes = len(self.members)
        item_orders = [rng.permutation(len(c)) for c in self.members]
        item_pos = np.zeros(num_classes, dtype=np.int64)
        class_cycle = list(rng.permutation(num_classes))
        batches = []
        for _ in range(count):
            chosen: list[int] = []
            while len(chosen) < self.classes_per_batch:
                if not class_cycle:
                    fresh = [c for c in rng.permutation(num_classes) if c not in chosen]
                    class_cycle = fresh
                c = int(class_cycle.pop(0))
                if c not in chosen:
                    chosen.append(c)
            batch = []
            for c in chosen:
                members = self.members[c]
                if len(members) < self.m:
                    batch.append(members[rng.integers(0, len(members), self.m)])
                    continue
                if item_pos[c] + self.m > len(members):
                    item_orders[c] = rng.permutation(len(members))
                    item_pos[c] = 0
                batch.append(members[item_orders[c][item_pos[c] : item_pos[c] + self.m]])
                item_pos[c] += self.m
            batches.append(np.concatenate(batch))
        return batches


class RandomBatchSampler(_EpochBatchSampler):
    """Batches of ``batch_size`` items drawn without replacement from a shuffled epoch.

    Args:
        labels: ``[N]`` labels (only their count is used; the same call as the M-per-class one).
        batch_size, seed, num_replicas, rank, batches_per_epoch: as :class:`MPerClassSampler`.
    """

    def __init__(
        self,
        labels: Sequence[int] | np.ndarray,
        batch_size: int,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        batches_per_epoch: int | None = None,
    ) -> None:
        self.num_items = len(labels)
        if self.num_items < batch_size:
            raise ConfigError(
                f"data.batch_size={batch_size} is larger than the training split "
                f"({self.num_items} items); lower data.batch_size"
            )
        super().__init__(self.num_items, batch_size, seed, num_replicas, rank, batches_per_epoch)

    def global_batches(self, rng: np.random.Generator, count: int) -> list[np.ndarray]:
        per_pass = self.num_items // self.batch_size
        batches: list[np.ndarray] = []
        while len(batches) < count:
            order = rng.permutation(self.num_items)
            batches += [
                order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(per_pass)
            ]
        return batches[:count]
