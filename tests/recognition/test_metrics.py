"""The recognition protocol of ``eval.py openset=true`` against loops over the same splits."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from metriclab.recognition.metrics import recognition_metrics


def _clusters(classes: int, per_class: int, noise: float, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 16))
    labels = np.repeat(np.arange(classes), per_class)
    x = centres[labels] + noise * rng.normal(size=(len(labels), 16))
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels + 100  # ids need not start at 0


def _knn_loop(gallery, g_labels, query, k, skip_self=False):
    out = []
    for qi, q in enumerate(query):
        sims = [(-float(q @ g), i) for i, g in enumerate(gallery) if not (skip_self and i == qi)]
        votes, first = defaultdict(float), {}
        for rank, (s, i) in enumerate(sorted(sims)[:k]):
            votes[g_labels[i]] += max(-s, 0.0)
            first.setdefault(g_labels[i], rank)
        out.append(max(votes, key=lambda c: (votes[c], -first[c])))
    return np.array(out)


def _centroid_loop(gallery, g_labels, query):
    means = {c: gallery[g_labels == c].mean(axis=0) for c in set(g_labels.tolist())}
    cos = lambda q, m: q @ m / np.linalg.norm(m)  # noqa: E731
    return np.array([max(means, key=lambda c: cos(q, means[c])) for q in query])


def test_closed_set_accuracies_equal_loops() -> None:
    x, y = _clusters(12, 8, noise=1.2, seed=0)
    got, _ = recognition_metrics(x, y, shots=(1, 3, "all"), enroll=3, k=3, seed=5)
    known = np.isin(y, np.random.default_rng(5).permutation(np.unique(y))[:6])
    rank = np.concatenate([np.arange(8)] * 12)
    for n in (1, 3):
        gal, qry = known & (rank < n), known & (rank >= n)
        want = _knn_loop(x[gal], y[gal], x[qry], 3)
        assert got[f"closed/knn_acc@{n}"] == pytest.approx(np.mean(want == y[qry]))
        want = _centroid_loop(x[gal], y[gal], x[qry])
        assert got[f"closed/centroid_acc@{n}"] == pytest.approx(np.mean(want == y[qry]))
    xs, ys = x[known], y[known]
    want = _knn_loop(xs, ys, xs, 3, skip_self=True)
    assert got["closed/knn_acc@all"] == pytest.approx(np.mean(want == ys))
    loo = [
        _centroid_loop(np.delete(xs, i, 0), np.delete(ys, i), xs[i : i + 1])[0]
        for i in range(len(xs))
    ]
    assert got["closed/centroid_acc@all"] == pytest.approx(np.mean(np.array(loo) == ys))
    assert 0.0 < got["closed/knn_acc@1"] < got["closed/knn_acc@all"] <= 1.0


def test_open_set_calibration_holds_on_the_other_half() -> None:
    x, y = _clusters(400, 20, noise=0.9, seed=1)
    got, block = recognition_metrics(x, y, target_precision=0.9, seed=0)
    assert 0.5 < got["openset/knn_auroc"] <= 1.0 and 0.5 < got["openset/centroid_auroc"] <= 1.0
    assert got["openset/calib_precision"] >= 0.9
    assert got["openset/precision"] != got["openset/calib_precision"]  # another half
    assert got["openset/precision"] == pytest.approx(0.9, abs=0.02)
    assert 0 < got["openset/coverage"] < 1 and block["threshold"] == got["openset/threshold"]
    for far in ("0.001", "0.0001"):
        tar = got[f"verify/tar@far={far}"]
        assert 0 < tar < 1 and got[f"verify/fnmr@fmr={far}"] == pytest.approx(1 - tar)


def test_centroid_temperature_auto_is_the_fixed_temperature_it_chose() -> None:
    x, y = _clusters(200, 20, noise=0.9, seed=2)
    options = {"method": "centroid", "target_precision": 0.9, "shots": (), "fars": ()}
    auto, block = recognition_metrics(x, y, temperature="auto", **options)
    chosen = auto.pop("openset/temperature")
    assert block["choices"][str(chosen)] == max(block["choices"].values())
    fixed, fixed_block = recognition_metrics(x, y, temperature=chosen, **options)
    assert auto == fixed and block["threshold"] == fixed_block["threshold"]
    for t, answers in block["choices"].items():  # each choice is that temperature's calibration
        _, one = recognition_metrics(x, y, temperature=float(t), **options)
        assert one["calibration"]["n_accepted"] == answers


def test_with_knn_the_centroid_auroc_uses_the_temperature_given() -> None:
    x, y = _clusters(100, 20, noise=0.9, seed=3)
    options = {"target_precision": 0.9, "shots": (), "fars": ()}
    knn, _ = recognition_metrics(x, y, method="knn", temperature=0.1, **options)
    centroid, _ = recognition_metrics(x, y, method="centroid", temperature=0.1, **options)
    assert knn["openset/centroid_auroc"] == centroid["openset/centroid_auroc"]
    auto, _ = recognition_metrics(x, y, method="knn", temperature="auto", **options)
    assert auto == recognition_metrics(x, y, method="knn", temperature=0.0, **options)[0]
