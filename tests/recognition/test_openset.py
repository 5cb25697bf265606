"""Open-set and verification metrics against loop-by-loop recomputations and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from metriclab.recognition.openset import (
    auroc,
    decision_metrics,
    precision_coverage,
    tar_at_far,
    threshold_at_fmr,
    threshold_at_precision,
)


def test_auroc_equals_pair_counting_and_sklearn() -> None:
    rng = np.random.default_rng(0)
    pos = rng.integers(0, 8, 40).astype(float)  # many ties
    neg = rng.integers(0, 6, 30).astype(float)
    loop = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg])
    assert auroc(pos, neg) == pytest.approx(loop, abs=1e-12)
    truth = np.r_[np.ones(40), np.zeros(30)]
    assert auroc(pos, neg) == pytest.approx(roc_auc_score(truth, np.r_[pos, neg]), abs=1e-12)
    assert auroc([1.0, 2.0], [0.0]) == 1.0 and auroc([0.0], [1.0, 2.0]) == 0.0


def test_precision_coverage_equals_a_loop_over_thresholds() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 20, 200) / 20
    correct = rng.random(200) < scores  # higher score, more often right
    curve = precision_coverage(scores, correct)
    distinct = np.unique(scores)[::-1]
    np.testing.assert_array_equal(curve["threshold"], distinct)
    for t, cov, prec in zip(distinct, curve["coverage"], curve["precision"], strict=True):
        accepted = scores >= t
        assert cov == pytest.approx(accepted.mean())
        assert prec == pytest.approx(correct[accepted].mean())


def test_threshold_at_precision_is_the_lowest_reaching_the_target() -> None:
    rng = np.random.default_rng(2)
    scores = rng.random(500)
    correct = rng.random(500) < scores
    for target in (0.6, 0.8, 0.95):
        t = threshold_at_precision(scores, correct, target)
        assert correct[scores >= t].mean() >= target
        lower = [s for s in np.unique(scores) if s < t]
        assert all(correct[scores >= s].mean() < target for s in lower)
    assert threshold_at_precision([0.2, 0.5], [False, False], 0.9) > 0.5  # reject all


def test_threshold_at_fmr_and_tar_at_far() -> None:
    impostor = np.arange(1000) / 1000.0  # 0.000 ... 0.999
    t = threshold_at_fmr(impostor, 1e-2)
    assert (impostor >= t).sum() == 10 and (impostor >= np.nextafter(t, -1) - 1e-3).sum() > 10
    assert (
        np.r_[impostor, impostor] >= threshold_at_fmr(np.r_[impostor, impostor], 1e-2)
    ).sum() == 20
    ties = np.r_[np.full(5, 0.9), np.zeros(995)]
    assert (ties >= threshold_at_fmr(ties, 2e-3)).sum() == 0  # a tie straddling the budget
    genuine = np.r_[np.full(30, 0.995), np.full(70, 0.5)]
    assert tar_at_far(genuine, impostor, 1e-2) == pytest.approx(0.3)


def test_decision_metrics_counts_by_hand() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2])
    correct = np.array([True, False, True, False, False, False])
    known = np.array([True, True, True, True, False, False])
    got = decision_metrics(scores, correct, known, threshold=0.35)
    # accepted: 0.9 (right), 0.8 (wrong), 0.7 (right), 0.4 (wrong); rejected 0.3, 0.2 (unknowns)
    assert got == pytest.approx(
        {
            "precision": 0.5,
            "coverage": 4 / 6,
            "accuracy": 4 / 6,
            "known_accept": 1.0,
            "unknown_accept": 0.0,
        }
    )
    assert decision_metrics(scores, correct, known, 2.0)["precision"] == 1.0
