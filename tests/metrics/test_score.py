"""``score``: the retrieval metrics, NMI/AMI and the prefixes' metrics of one embedding set, each
equal to its part computed on its own."""

from __future__ import annotations

import numpy as np
import pytest

from metriclab.metrics import clustering_metrics, retrieval_metrics, score


def data(n: int = 120, d: int = 8, classes: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, d))
    return (centres[labels] + 0.8 * rng.normal(size=(n, d))).astype(np.float32), labels


def test_score_is_retrieval_plus_nmi() -> None:
    x, y = data()
    got = score(x, y, ks=(1, 4), seed=3)
    want = retrieval_metrics(x, y, ks=(1, 4))
    assert list(got) == [*want, "nmi"]
    assert {k: got[k] for k in want} == want
    assert got["nmi"] == clustering_metrics(x, y, seed=3)["nmi"]
    assert "nmi" not in score(x, y, nmi=False)
    both = score(x, y, ami=True, seed=3)
    assert both["ami"] == clustering_metrics(x, y, seed=3)["ami"]


def test_prefixes_are_scored_renormalised_and_too_long_ones_skipped() -> None:
    x, y = data(d=8)
    got = score(x, y, ks=(1,), nmi=False, prefix_dims=(2, 4, 8, 16))
    for d in (2, 4):
        cut = x[:, :d] / np.linalg.norm(x[:, :d], axis=1, keepdims=True)
        want = retrieval_metrics(cut, y, ks=(1,))
        assert {k: got[f"{k}@{d}"] for k in want} == pytest.approx(want, abs=1e-12), d
    assert got["recall@1@2"] != got["recall@1"]  # the prefix is really cut
    assert not [k for k in got if k.endswith(("@8", "@16"))]  # d >= D: nothing to cut


def test_query_to_gallery() -> None:
    q, qy = data(seed=1)
    g, gy = data(seed=2)
    got = score(q, qy, g, gy, ks=(1,), nmi=False)
    assert got == retrieval_metrics(q, qy, g, gy, ks=(1,))
    assert got != score(q, qy, ks=(1,), nmi=False)  # the gallery is used
