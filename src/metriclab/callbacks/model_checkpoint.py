"""``callbacks.model_checkpoint``: keep the best validation metric, the later epoch on a tie.

Every checkpoint file is written atomically
(:class:`metriclab.runs.checkpoints.AtomicCheckpointIO`).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
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
