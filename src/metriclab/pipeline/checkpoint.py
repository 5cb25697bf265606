"""The best-checkpoint rule: the best validation metric, the later epoch on a tie."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint


class BestCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` that also replaces the best checkpoint on a tie.

    Retrieval metrics on a small validation split saturate (Recall@1 = 1.0 after a few epochs);
    keeping the first such epoch would select an undertrained model. On equal scores the later,
    longer-trained epoch is kept. ``save_on_tie=False`` restores Lightning's strict rule.
    """

    def __init__(self, *args, save_on_tie: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.save_on_tie = bool(save_on_tie)

    def check_monitor_top_k(self, trainer: pl.Trainer, current: torch.Tensor | None = None) -> bool:
        if super().check_monitor_top_k(trainer, current):
            return True
        if current is None or not self.save_on_tie or not self.best_k_models:
            return False
        tied = bool(torch.eq(current, self.best_k_models[self.kth_best_model_path]))
        return trainer.strategy.reduce_boolean_decision(tied)
