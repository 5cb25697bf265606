"""``callbacks.evaluator``: the metrics every run reports, equal to a brute-force recount; a run
without the evaluator is refused."""

from __future__ import annotations

import numpy as np
import pytest
from config_helpers import refused
from omegaconf import OmegaConf

from metriclab.pipeline import train


def test_recognition_metrics_when_asked(make_cfg) -> None:
    from metriclab.evaluation.recognition import recognition_metrics

    metrics, objects = train(make_cfg("callbacks.evaluator.recognition=true"))
    for key in ("closed/knn_acc@1", "closed/centroid_acc@all", "openset/knn_auroc"):
        assert 0.0 <= metrics[f"test/{key}"] <= 1.0, key
    emb, labels, _ = objects["evaluator"].gathered[0]  # the test embeddings, in dataset order
    expected, _ = recognition_metrics(emb, labels, seed=objects["cfg"].seed)
    assert metrics["test/openset/knn_auroc"] == pytest.approx(expected["openset/knn_auroc"])
    assert OmegaConf.select(make_cfg(), "callbacks.evaluator.recognition") is False  # when asked


def brute_force_recall_at_1(emb: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out Recall@1 by cosine, one query at a time."""
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    hits = 0
    for i in range(len(x)):
        sims = x @ x[i]
        sims[i] = -np.inf
        hits += labels[int(np.argmax(sims))] == labels[i]
    return hits / len(x)


def test_test_recall_equals_a_brute_force_recount(make_cfg) -> None:
    metrics, objects = train(make_cfg())
    emb, labels, _ = objects["evaluator"].gathered[0]  # the test embeddings, in dataset order
    emb, labels = np.asarray(emb, dtype=np.float64), np.asarray(labels)
    assert metrics["test/recall@1"] == pytest.approx(brute_force_recall_at_1(emb, labels))
    assert set(metrics) >= {f"test/recall@{k}" for k in (1, 2, 4, 8)} | {"test/map@r"}


def test_a_run_without_the_evaluator_is_refused(make_cfg, capsys) -> None:
    line = refused(make_cfg("callbacks.evaluator=null"), capsys)
    assert "callbacks.evaluator" in line and "keep callbacks.evaluator" in line
