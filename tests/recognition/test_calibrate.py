"""Calibration hits its target on synthetic queries with a known score distribution."""

from __future__ import annotations

from unittest.mock import ANY

import numpy as np
import pytest

from metriclab.errors import ConfigError
from metriclab.recognition.calibrate import calibrate, calibrate_best, split_halves
from metriclab.recognition.openset import decision_metrics


def _synthetic(n: int, seed: int):
    """``n`` queries: right answers score ~ U(0.3, 1), wrong ones ~ U(0, 0.7); 1/4 strangers.

    With half right, the precision of ``score >= t`` (0.3 <= t <= 0.7) is
    ``(1 - t) / 0.7 / ((1 - t) / 0.7 + (0.7 - t) / 0.7)`` = ``(1 - t) / (1.7 - 2 t)``.
    """
    rng = np.random.default_rng(seed)
    known = rng.random(n) < 0.75
    correct = known & (rng.random(n) < 2 / 3)  # half of all queries right
    scores = np.where(correct, rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.7, n))
    return scores, correct, known


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95])
def test_target_precision_is_met_on_a_separate_half(target: float) -> None:
    scores, correct, known = _synthetic(200_000, seed=int(target * 100))
    labels = np.where(known, np.arange(len(known)) % 50, 50 + np.arange(len(known)) % 20)
    first, second = split_halves(labels, known, seed=0, strangers="class")
    assert not (first & second).any() and (first | second).all()
    assert not set(labels[~known & first]) & set(labels[~known & second])
    block = calibrate(scores[first], correct[first], known[first], target_precision=target)
    exact = (1.7 * target - 1) / (2 * target - 1)  # solves (1 - t) / (1.7 - 2 t) = target
    assert block["threshold"] == pytest.approx(exact, abs=0.01)
    held = decision_metrics(scores[second], correct[second], known[second], block["threshold"])
    assert held["precision"] == pytest.approx(target, abs=0.01)
    assert block["target"] == {"precision": target}
    curve = block["curve"]
    assert len(curve["threshold"]) <= 200 and curve["coverage"][-1] == 1.0


def test_item_halves_split_every_class() -> None:
    labels = np.repeat(np.arange(7), 15)
    known = labels < 4
    first, second = split_halves(labels, known, seed=3)
    assert not (first & second).any() and (first | second).all()
    sizes = [(first & (labels == c)).sum() for c in range(7)]
    assert sorted(set(sizes)) == [7, 8] and abs(first.sum() - second.sum()) <= 1


def test_target_fmr_bounds_the_strangers_accepted() -> None:
    scores, correct, known = _synthetic(40_000, seed=7)
    block = calibrate(scores, correct, known, target_fmr=1e-2)
    assert block["calibration"]["unknown_accept"] <= 1e-2
    strangers = np.sort(scores[~known])
    assert block["threshold"] == pytest.approx(strangers[int(0.99 * len(strangers))], abs=1e-3)
    assert block["threshold"] == pytest.approx(0.7 * 0.99, abs=0.01)  # U(0, 0.7) quantile


def test_one_target_exactly() -> None:
    scores, correct, known = _synthetic(100, seed=0)
    with pytest.raises(ConfigError, match="exactly one"):
        calibrate(scores, correct, known)
    with pytest.raises(ConfigError, match="in \\(0, 1\\]"):
        calibrate(scores, correct, known, target_precision=95)
    with pytest.raises(ConfigError, match="not in the gallery"):
        calibrate(scores, correct, np.ones(100, bool), target_fmr=1e-3)


def test_calibrate_best_takes_the_confidence_that_answers_most() -> None:
    rng = np.random.default_rng(0)
    correct = rng.random(2000) < 0.6
    known = np.ones(2000, dtype=bool)
    sharp = np.where(correct, rng.normal(2.0, 1.0, 2000), rng.normal(0.0, 1.0, 2000))
    blunt = np.where(correct, rng.normal(0.5, 1.0, 2000), rng.normal(0.0, 1.0, 2000))
    best, block = calibrate_best({0.0: blunt, 0.1: sharp}, correct, known, target_precision=0.9)
    assert best == 0.1 and block == {**calibrate(sharp, correct, known, 0.9), "choices": ANY}
    assert block["choices"]["0.1"] > block["choices"]["0.0"]
    first, _ = calibrate_best({0.0: sharp, 0.1: sharp}, correct, known, target_precision=0.9)
    assert first == 0.0  # a tie keeps the first listed
