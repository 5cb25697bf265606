"""``scheduler=cosine`` (and ``none``): the learning rate follows the formula, in a real run too."""

from __future__ import annotations

import math

import pytest

from metriclab.schedulers import warmup_cosine


def test_cosine_with_warmup_matches_the_formula(lr_factors) -> None:
    got = lr_factors(lambda o: warmup_cosine(o, 20, 5, warmup_epochs=1, min_lr_ratio=0.1), 20)
    for t, value in enumerate(got):
        if t < 5:
            want = (t + 1) / 5
        else:
            want = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (t - 5) / 15))
        assert value == pytest.approx(want), t
    assert got[4] == pytest.approx(1.0) and got[-1] < 0.12


def test_a_cosine_run_ends_at_the_scheduled_rate(final_rates) -> None:
    steps, rates = final_rates("scheduler=cosine")
    assert steps == 6  # 2 epochs x 3 batches (TINY)
    factor = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1, steps / 6)))
    for lr, base in rates:
        assert lr == pytest.approx(base * factor)


def test_scheduler_none_keeps_the_rate(final_rates) -> None:
    _, rates = final_rates("scheduler=none")
    assert all(lr == pytest.approx(base) for lr, base in rates)
