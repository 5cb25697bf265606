"""Per-epoch seeding: an epoch's randomness depends on ``(seed, epoch, rank)`` only.

At the start of every training epoch Python's, NumPy's and torch's global generators are
re-seeded from ``SeedSequence([seed, epoch, rank])`` (the batch samplers are already seeded per
``(seed, epoch)``). Restoring a checkpoint's epoch therefore restores the random state: a run
resumed from an epoch-end checkpoint draws exactly the augmentations, dropout masks and
DataLoader worker seeds that the uninterrupted run drew.

One detail makes that hold: Lightning creates the first epoch's data iterator (which draws its
worker base seed from torch's generator) before ``on_train_epoch_start``, later epochs' after it.
The first epoch of every ``fit`` call therefore gets a fresh iterator after seeding, so every
epoch runs ``seed -> iterator -> batches`` whether the run was interrupted or not.
"""

from __future__ import annotations

import random

import numpy as np
import pytorch_lightning as pl
import torch


def seed_all(seed: int, epoch: int, rank: int) -> None:
    """Seed ``random``, ``numpy.random`` and torch (CPU and CUDA) from ``(seed, epoch, rank)``."""
    words = np.random.SeedSequence([int(seed), int(epoch), int(rank)]).generate_state(2)
    random.seed(int(words[0]))
    np.random.seed(int(words[0]))
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))


class EpochSeeder(pl.Callback):
    """Re-seeds every training epoch from ``(seed, epoch, global rank)``.

    Args:
        seed: the run's ``seed``.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._first_epoch_of_fit = True

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._first_epoch_of_fit = True

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seed_all(self.seed, trainer.current_epoch, trainer.global_rank)
        if self._first_epoch_of_fit:
            self._first_epoch_of_fit = False
            fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
            if fetcher is not None:
                iter(fetcher)  # the iterator made before this hook drew from the old state
