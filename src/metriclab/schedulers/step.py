"""``scheduler=step``: linear warm-up, then a step decay (stepped once per optimizer step)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_step(
    optimizer: Optimizer,
    total_steps: int,
    steps_per_epoch: int,
    step_epochs: float = 10.0,
    gamma: float = 0.5,
    warmup_epochs: float = 0.0,
) -> LambdaLR:
    """Linear warm-up, then multiply by ``gamma`` every ``step_epochs`` epochs."""
    warmup = int(round(warmup_epochs * steps_per_epoch))
    every = max(1, int(round(step_epochs * steps_per_epoch)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return gamma ** ((step - warmup) // every)

    return LambdaLR(optimizer, factor)
