"""Numerical faults: a NaN or Inf training loss never trains on silently.

``callbacks.nonfinite_loss.policy`` chooses what happens:

- ``stop`` (default): the run stops before the bad step is applied, with one line naming the
  epoch, the batch, the global step and the last good checkpoint (which is left untouched);
- ``skip``: the step is skipped (every gradient is dropped, so no parameter and no optimizer
  state changes; the learning-rate schedule still advances), a warning names it, and after
  ``max_consecutive_skips`` bad steps in a row the run stops as with ``stop``.

Under DDP the ranks agree (any rank's bad loss counts for all) so they skip or stop together.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from metriclab.callbacks.preemption import last_checkpoint_path
from metriclab.errors import ConfigError

log = logging.getLogger("metriclab")

POLICIES = ("stop", "skip")


class NonFiniteLossError(RuntimeError):
    """The training loss was NaN or Inf; the message is the one line the user sees."""


def last_good_checkpoint(trainer: pl.Trainer) -> str:
    """``"<path> (end of epoch E)"`` of the newest checkpoint on disk, or a note that none is."""
    last = last_checkpoint_path(trainer)
    best = next(
        (c.best_model_path for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), ""
    )
    for path in (last, Path(best or "")):
        if path is not None and path.name and path.is_file():
            return str(path)
    return "none yet (the first is written at the end of epoch 0)"


class NonFiniteLossGuard(pl.Callback):
    """Checks every training loss before its backward pass (see the module docstring).

    Args:
        policy: ``"stop"`` or ``"skip"``.
        max_consecutive_skips: with ``skip``, stop after this many bad steps in a row.
    """

    def __init__(self, policy: str = "stop", max_consecutive_skips: int = 10) -> None:
        if policy not in POLICIES:
            raise ConfigError(
                f"callbacks.nonfinite_loss.policy={policy} is not an option; use policy=stop "
                "(stop the run) or policy=skip (skip the step)"
            )
        self.policy = policy
        self.max_consecutive_skips = int(max_consecutive_skips)
        self.skipped_steps: list[int] = []  # global steps skipped (this session)
        self._consecutive = 0
        self._drop_step = False

    def where(self, trainer: pl.Trainer, loss: torch.Tensor) -> str:
        batch = trainer.fit_loop.epoch_loop.batch_progress.current.ready - 1
        return (
            f"the training loss is {loss.item()} at epoch {trainer.current_epoch}, batch "
            f"{batch} (global step {trainer.global_step})"
        )

    def stop(self, trainer: pl.Trainer, what: str) -> None:
        run_dir = Path(trainer.default_root_dir)
        raise NonFiniteLossError(
            f"{what}; the run stopped before applying it. Last good checkpoint: "
            f"{last_good_checkpoint(trainer)}. Fix: lower optimizer.lr or set "
            "trainer.gradient_clip_val, then resume with ckpt_path=last "
            f"hydra.run.dir={run_dir}; or set callbacks.nonfinite_loss.policy=skip to skip "
            "such steps"
        )

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return
        what = self.where(trainer, loss.detach())
        if self.policy == "stop":
            self.stop(trainer, what)
        self._drop_step = True
        if self._consecutive + 1 > self.max_consecutive_skips:
            self.stop(trainer, f"{what}, the {self._consecutive + 1}th bad step in a row")

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if not self._drop_step:
            self._consecutive = 0
            return
        for group in optimizer.param_groups:
            for param in group["params"]:
                param.grad = None  # torch optimizers leave parameters without a gradient alone
        self._drop_step = False
        self._consecutive += 1
        self.skipped_steps.append(trainer.global_step)
        if trainer.is_global_zero:
            log.warning(
                "callbacks.nonfinite_loss.policy=skip: skipped global step %d (epoch %d): the "
                "loss was not finite (%d skipped so far)",
                trainer.global_step,
                trainer.current_epoch,
                len(self.skipped_steps),
            )
