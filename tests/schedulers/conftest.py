"""Helpers for the schedule tests: the factors a schedule applies, and the rate a run ends at."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from metriclab.pipeline import train


@pytest.fixture
def lr_factors() -> Callable[..., list[float]]:
    """``lr_factors(schedule, steps)``: the learning rate (base 1.0) at each of ``steps`` steps."""

    def factors(schedule, steps: int) -> list[float]:
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([param], lr=1.0)
        scheduler = schedule(optimizer)
        seen = []
        for _ in range(steps):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        return seen

    return factors


@pytest.fixture
def final_rates(make_cfg) -> Callable[..., tuple[int, list[tuple[float, float]]]]:
    """``final_rates(*overrides)``: a real 2-epoch run's step count and ``(lr, initial_lr)`` of
    each parameter group at its end."""

    def run(*overrides: str) -> tuple[int, list[tuple[float, float]]]:
        _, objects = train(make_cfg(*overrides, "trainer.max_epochs=2", "optimizer.lr=0.001"))
        groups = objects["trainer"].optimizers[0].param_groups
        rates = [(g["lr"], g.get("initial_lr", g["lr"])) for g in groups]
        return objects["trainer"].global_step, rates

    return run
