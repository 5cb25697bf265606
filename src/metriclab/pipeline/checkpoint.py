"""Checkpoints: the best-checkpoint rule and atomic writes.

- :class:`BestCheckpoint`: the best validation metric, the later epoch on a tie.
- :class:`AtomicCheckpointIO`: every checkpoint (``best.ckpt``, ``last.ckpt``, the SIGTERM one) is
  written to a temporary file beside its target, flushed to disk, then renamed over it, so a
  kill mid-write leaves the previous file whole (and a ``.*.tmp`` that the next resume removes).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint


class BestCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` that also replaces the best checkpoint on a tie.

    Retrieval metrics on a small validation split saturate (Recall@1 = 1.0 after a few epochs);
    keeping the first such epoch would select an undertrained model. On equal scores the later,
    longer-trained epoch is kept. ``save_on_tie=False`` restores Lightning's strict rule.
    A ``fast_dev_run`` writes no checkpoint at all (not even ``last.ckpt``).
    """

    def __init__(self, *args, save_on_tie: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.save_on_tie = bool(save_on_tie)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.fast_dev_run:  # Lightning would still write last.ckpt for a dry run
            super().on_train_end(trainer, pl_module)

    def check_monitor_top_k(self, trainer: pl.Trainer, current: torch.Tensor | None = None) -> bool:
        if super().check_monitor_top_k(trainer, current):
            return True
        if current is None or not self.save_on_tie or not self.best_k_models:
            return False
        tied = bool(torch.eq(current, self.best_k_models[self.kth_best_model_path]))
        return trainer.strategy.reduce_boolean_decision(tied)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to ``.<name>.<random>.tmp`` in the target's folder, ``fsync``, rename."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; match a plain open()
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def install_atomic_io(trainer: pl.Trainer) -> None:
    """Give the trainer's strategy :class:`AtomicCheckpointIO` unless one was configured."""
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
