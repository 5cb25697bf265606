"""``scheduler=step``: warm-up, then ``gamma`` every ``step_epochs``, in a real run too."""

from __future__ import annotations

import pytest

from metriclab.schedulers import warmup_step


def test_step_schedule_halves_every_step_epochs(lr_factors) -> None:
    got = lr_factors(lambda o: warmup_step(o, 30, 4, step_epochs=2, gamma=0.5), 30)
    assert got == pytest.approx([0.5 ** (t // 8) for t in range(30)])


def test_step_warms_up_linearly(lr_factors) -> None:
    got = lr_factors(lambda o: warmup_step(o, 30, 4, step_epochs=2, warmup_epochs=1), 6)
    assert got[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0]) and got[4] == pytest.approx(1.0)


def test_a_step_run_ends_at_the_scheduled_rate(final_rates) -> None:
    steps, rates = final_rates("scheduler=step", "scheduler.step_epochs=1")
    assert steps == 6
    for lr, base in rates:
        assert lr == pytest.approx(base * 0.5 ** (steps // 3))
