"""retrieval_metrics against pytorch-metric-learning's AccuracyCalculator (a test-only oracle)."""

from __future__ import annotations

import logging

import faiss
import numpy as np
import pytest
from eval_reference import random_data, unit_rows

from metriclab.metrics import retrieval_metrics

accuracy_calculator = pytest.importorskip("pytorch_metric_learning.utils.accuracy_calculator")
inference = pytest.importorskip("pytorch_metric_learning.utils.inference")
logging.getLogger("PML").setLevel(logging.ERROR)

PML_KEYS = {
    "precision_at_1": "precision@1",
    "r_precision": "r_precision",
    "mean_average_precision_at_r": "map@r",
}


def pml_metrics(q, ql, g=None, gl=None) -> dict[str, float]:
    calc = accuracy_calculator.AccuracyCalculator(
        include=tuple(PML_KEYS),
        k="max_bin_count",
        knn_func=inference.FaissKNN(index_init_fn=faiss.IndexFlatIP),
    )
    q = unit_rows(q).astype(np.float32)  # PML ranks by its knn_func: IP of unit rows = cosine
    if g is None:
        out = calc.get_accuracy(q, ql)  # reference=None: same source, self excluded
    else:
        out = calc.get_accuracy(q, ql, unit_rows(g).astype(np.float32), gl, False)
    return {PML_KEYS[key]: value for key, value in out.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_mode_matches_pml(seed: int) -> None:
    x, y = random_data(800, 32, 150, seed)  # a few singleton classes: PML's lone queries
    got = retrieval_metrics(x, y)
    for key, value in pml_metrics(x, y).items():
        assert got[key] == pytest.approx(value, abs=1e-6), key


def test_query_gallery_mode_matches_pml() -> None:
    q, ql = random_data(300, 32, 40, seed=3)
    g, gl = random_data(700, 32, 45, seed=4)  # some query classes are absent from the gallery
    got = retrieval_metrics(q, ql, g, gl)
    for key, value in pml_metrics(q, ql, g, gl).items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
