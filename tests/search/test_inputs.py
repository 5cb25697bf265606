"""Bad inputs raise one-line ValueErrors that name the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metriclab.metrics import clustering_metrics, retrieval_metrics

X = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
Y = np.arange(10) % 3
NAN = X.copy()
NAN[3, 1] = np.nan

CASES = [
    ((X[:9], Y), {}, "query_labels has shape"),
    ((X[None], Y), {}, "must be 2-D"),
    ((X[:0], Y[:0]), {}, "is empty"),
    ((NAN, Y), {}, r"NaN or Inf \(first bad row: 3\)"),
    ((X, Y.astype(np.float32)), {}, "must hold integers"),
    ((X.astype(np.int64), Y), {}, "must be a float array"),
    (([[0.0]], [0]), {}, "numpy array or torch tensor"),
    ((X, Y), {"ks": (1, 0)}, "positive integers"),
    ((X, Y), {"ks": ()}, "positive integers"),
    ((X, Y), {"ks": 5}, "positive integers"),
    ((X, Y, X[:, :3], Y), {}, "gallery has dimension 3 but query has 4"),
    ((X, Y, X), {}, "without gallery_labels"),
    ((X, Y), {"gallery_labels": Y}, "without gallery"),
    ((X, Y, X, Y[:4]), {}, "gallery_labels has shape"),
    ((X, np.arange(10)), {}, "no query has a same-label item"),
    ((X, Y), {"backend": "gpu"}, "backend must be"),
]


@pytest.mark.parametrize(("args", "kwargs", "match"), CASES)
def test_retrieval_metrics_rejects(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        retrieval_metrics(*args, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((NAN, Y), {}, "NaN or Inf"),
        ((torch.from_numpy(X), Y[:3]), {}, "labels has shape"),
        ((X, Y), {"init": "kmeans||"}, "init must be"),
    ],
)
def test_clustering_metrics_rejects(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        clustering_metrics(*args, **kwargs)
    assert "\n" not in str(info.value)


def test_huge_finite_values_are_not_mistaken_for_inf() -> None:
    from metriclab.search.inputs import as_embeddings

    x = np.full((4, 3), 3e38, dtype=np.float32)  # the sum overflows, every entry is finite
    assert as_embeddings(x, "query").shape == (4, 3)
    x[2, 0] = -np.inf
    with pytest.raises(ValueError, match=r"first bad row: 2"):
        as_embeddings(x, "query")
