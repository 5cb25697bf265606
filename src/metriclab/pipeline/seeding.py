"""Per-epoch seeding: an epoch's randomness depends on ``(seed, epoch, rank)`` only.

At the start of every training epoch Python's, NumPy's and torch's generators are re-seeded
from ``SeedSequence([seed, epoch, rank])`` (the batch samplers are already seeded per
``(seed, epoch)``). A run resumed from an epoch-end checkpoint therefore draws exactly the
augmentations, dropout masks and worker seeds that the uninterrupted run drew. The generators'
states are also saved in every checkpoint; a checkpoint taken mid-epoch (SIGTERM) restores them
when its epoch restarts.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


def seed_all(seed: int, epoch: int, rank: int) -> None:
    """Seed ``random``, ``numpy.random`` and torch (CPU and CUDA) from ``(seed, epoch, rank)``."""
    words = np.random.SeedSequence([int(seed), int(epoch), int(rank)]).generate_state(2)
    random.seed(int(words[0]))
    np.random.seed(int(words[0]))
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))


def rng_state() -> dict[str, Any]:
    """The global generators' states, in types that ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class EpochSeeder(pl.Callback):
    """Re-seeds every training epoch from ``(seed, epoch, global rank)``; checkpoints the RNG.

    Args:
        seed: the run's ``seed``.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._restored: dict[str, Any] | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seed_all(self.seed, trainer.current_epoch, trainer.global_rank)
        restored, self._restored = self._restored, None
        if restored and restored.get("epoch") == trainer.current_epoch and restored["mid_epoch"]:
            set_rng_state(restored["rng"])

    def state_dict(self) -> dict[str, Any]:
        trainer = getattr(self, "_trainer", None)
        loop = trainer.fit_loop.epoch_loop if trainer is not None else None
        progress = loop.batch_progress if loop is not None else None
        mid_epoch = bool(progress and progress.current.completed and not progress.is_last_batch)
        return {
            "seed": self.seed,
            "epoch": trainer.current_epoch if trainer is not None else 0,
            "mid_epoch": mid_epoch,
            "rng": rng_state(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = dict(state_dict)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer
