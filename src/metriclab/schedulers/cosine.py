"""``scheduler=cosine``: linear warm-up, then cosine decay (stepped once per optimizer step)."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(
    optimizer: Optimizer,
    total_steps: int,
    steps_per_epoch: int,
    warmup_epochs: float = 0.0,
    min_lr_ratio: float = 0.0,
) -> LambdaLR:
    """Linear warm-up over ``warmup_epochs``, then cosine decay to ``min_lr_ratio * lr``.

    ``factor(t) = (t + 1) / W`` for ``t < W``, else
    ``min + (1 - min) * (1 + cos(pi * (t - W) / (T - W))) / 2``.
    """
    warmup = int(round(warmup_epochs * steps_per_epoch))
    total = max(int(total_steps), warmup + 1)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
