"""The LightningModule: embedding model + loss (+ miner), optimizer groups and schedule.

``training_step``: ``x [B, C, H, W] -> embeddings [B, D]``; under DDP the embeddings and labels
of every rank are gathered (gradients flow back to their rank), so the loss and miner see the
global batch and the loss equals the single-process loss on the concatenated batch
(``gather_embeddings=False`` keeps everything local; ``mine_locally=True`` mines each rank's part
and offsets the indices into the global batch). ``validation_step`` / ``test_step`` return the
embeddings, labels and dataset indices for the evaluator callback
(:class:`~metriclab.callbacks.evaluator.RetrievalEvaluator`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor, nn


class MetricLearningModule(pl.LightningModule):
    """Trains ``model`` with ``loss`` (and ``miner``).

    Args:
        model: ``[B, C, H, W] -> [B, D]``, with
            ``param_groups() -> {"backbone": [...], "head": [...]}``.
        loss: ``loss(embeddings, labels, indices_tuple=None) -> scalar``; its own parameters
            (proxies, classifier) train at ``lr * loss.lr_multiplier``.
        miner: ``miner(embeddings, labels) -> indices tuple``, or ``None``.
        optimizer: ``optimizer(param_groups) -> Optimizer`` (a Hydra ``_partial_``, with ``lr``).
        scheduler: ``scheduler(optimizer, total_steps, steps_per_epoch) -> LRScheduler`` or None.
        backbone_lr_multiplier: the backbone trains at ``lr * backbone_lr_multiplier``.
        gather_embeddings, mine_locally: the DDP behaviour described above.
        channels_last: NHWC memory format for the model and its input images.
        compile_model: ``torch.compile`` the model's forward (in place, names unchanged).
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        miner: nn.Module | None = None,
        scheduler: Callable[..., Any] | None = None,
        backbone_lr_multiplier: float = 1.0,
        gather_embeddings: bool = True,
        mine_locally: bool = False,
        channels_last: bool = False,
        compile_model: bool = False,
    ) -> None:
        super().__init__()
        self.model, self.loss, self.miner = model, loss, miner
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if compile_model:
            self.model.compile()  # in place: parameter names (and checkpoints) stay the same
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.backbone_lr_multiplier = float(backbone_lr_multiplier)
        self.gather_embeddings, self.mine_locally = bool(gather_embeddings), bool(mine_locally)

    def forward(self, images: Tensor) -> Tensor:
        if self.channels_last and images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.model(images)

    # ---------------------------------------------------------------- training
    def global_batch(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, D], [B] -> [W*B, D], [W*B]``: every rank's batch, in rank order."""
        if self.trainer.world_size == 1 or not self.gather_embeddings:
            return embeddings, labels
        gathered = self.all_gather(embeddings, sync_grads=True)
        return gathered.flatten(0, 1), self.all_gather(labels).flatten(0, 1)

    def mine(self, embeddings: Tensor, labels: Tensor, local: tuple[Tensor, Tensor]):
        """The miner's tuple over the global batch, or over the local one offset into it."""
        if self.miner is None:
            return None
        if not self.mine_locally or embeddings.shape[0] == local[0].shape[0]:
            return self.miner(embeddings, labels)
        offset = self.global_rank * local[0].shape[0]
        return tuple(t + offset for t in self.miner(*local))

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        images, labels, _ = batch
        local = (self(images), labels)
        embeddings, labels = self.global_batch(*local)
        indices_tuple = self.mine(embeddings, labels, local)
        if indices_tuple is None:
            loss = self.loss(embeddings, labels)
        else:
            loss = self.loss(embeddings, labels, indices_tuple)
        self.log(
            "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(labels)
        )
        return loss

    # -------------------------------------------------------------- evaluation
    def embed_batch(self, batch: tuple[Tensor, Tensor, Tensor]) -> dict[str, Tensor]:
        images, labels, indices = batch
        return {"embeddings": self(images).float(), "labels": labels, "indices": indices}

    def validation_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        return self.embed_batch(batch)

    def test_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        return self.embed_batch(batch)

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Tensor]:
        return self.embed_batch(batch)

    # -------------------------------------------------------------- optimizers
    def param_groups(self) -> list[dict[str, Any]]:
        """Backbone, head and loss parameters as named groups with their learning rates."""
        lr = float(self.optimizer_factory.keywords["lr"])
        groups = self.model.param_groups()
        specs = [
            ("backbone", groups["backbone"], lr * self.backbone_lr_multiplier),
            ("head", groups["head"], lr),
            ("loss", list(self.loss.parameters()), lr * getattr(self.loss, "lr_multiplier", 1.0)),
        ]
        return [
            {"name": name, "params": params, "lr": group_lr}
            for name, params, group_lr in specs
            if params
        ]

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(self.param_groups())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        scheduler = self.scheduler_factory(optimizer, total_steps=total, steps_per_epoch=per_epoch)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
