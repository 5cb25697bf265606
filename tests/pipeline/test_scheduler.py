"""``scheduler=cosine|step|none``: the learning rate a real run ends with follows the formula."""

from __future__ import annotations

import math

import pytest
import torch

from metriclab.pipeline import train
from metriclab.pipeline.schedules import warmup_cosine, warmup_step


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


def test_cosine_with_warmup_matches_the_formula() -> None:
    got = factors(lambda o: warmup_cosine(o, 20, 5, warmup_epochs=1, min_lr_ratio=0.1), 20)
    for t, value in enumerate(got):
        if t < 5:
            want = (t + 1) / 5
        else:
            want = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (t - 5) / 15))
        assert value == pytest.approx(want), t
    assert got[4] == pytest.approx(1.0) and got[-1] < 0.12


def test_step_schedule_halves_every_step_epochs() -> None:
    got = factors(lambda o: warmup_step(o, 30, 4, step_epochs=2, gamma=0.5), 30)
    assert got == pytest.approx([0.5 ** (t // 8) for t in range(30)])


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("scheduler=cosine", lambda t: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1, t / 6)))),
        ("scheduler=step", lambda t: 0.5 ** (t // 3)),
        ("scheduler=none", lambda t: 1.0),
    ],
)
def test_a_run_ends_at_the_scheduled_rate(make_cfg, choice, expected) -> None:
    overrides = [choice, "trainer.max_epochs=2", "optimizer.lr=0.001"]
    if choice == "scheduler=step":
        overrides.append("scheduler.step_epochs=1")
    _, objects = train(make_cfg(*overrides))
    optimizer = objects["trainer"].optimizers[0]
    steps = objects["trainer"].global_step
    assert steps == 6  # 2 epochs x 3 batches (TINY)
    for group in optimizer.param_groups:
        base = group.get("initial_lr", group["lr"])
        assert group["lr"] == pytest.approx(base * expected(steps)), (choice, group.get("name"))
