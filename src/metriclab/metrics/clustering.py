"""``clustering_metrics``: NMI and AMI of k-means clusters (FAISS) against the labels."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

from metriclab.distances.base import l2_normalize
from metriclab.search.backends import faiss_has_gpu
from metriclab.search.inputs import as_embeddings, as_labels

_PLUS_PLUS_BUDGET = 2**32  # k * N * D multiply-adds of k-means++ seeding under init="auto"


def clustering_metrics(
    embeddings: Any,
    labels: Any,
    seed: int = 0,
    *,
    niter: int = 25,
    init: str = "auto",
    gpu: bool | None = None,
) -> dict[str, float]:
    """NMI and AMI of k-means on L2-normalised embeddings, ``k`` = number of classes.

    Args:
        embeddings: ``[N, D]`` float numpy array or torch tensor (any float dtype, any device).
        labels: ``[N]`` integer labels.
        seed: seeds the initial centroids and FAISS; equal inputs and seed give equal results.
        niter: Lloyd iterations (FAISS's default, 25).
        init: ``"k-means++"`` (D^2 sampling; ``k`` sequential passes over the data),
            ``"random"`` (FAISS's: ``k`` distinct points, as pytorch-metric-learning uses) or
            ``"auto"``: k-means++ while ``k * N * D <= 2**32`` (a few seconds), else random
            (SOP's 11,316 classes would need 11,316 passes over 60,502 x 512 floats).
        gpu: run FAISS k-means on the GPU; ``None``: when the installed FAISS has GPU support.

    Returns:
        ``{"nmi": NMI, "ami": AMI}`` with ``NMI = I(Y; C) / mean(H(Y), H(C))`` (arithmetic mean,
        scikit-learn's default) and ``AMI`` its chance-adjusted form; NMI is in [0, 1], AMI is at
        most 1 and about 0 (possibly slightly below) for random clusters.
    """
    if init not in ("auto", "k-means++", "random"):
        raise ValueError(f"init must be 'auto', 'k-means++' or 'random', got {init!r}")
    x = l2_normalize(as_embeddings(embeddings, "embeddings")).cpu().numpy()
    y = as_labels(labels, x.shape[0], "labels")
    n, d = x.shape
    k = len(np.unique(y))
    if init == "auto":
        init = "k-means++" if k * n * d <= _PLUS_PLUS_BUDGET else "random"
    kmeans = faiss.Kmeans(
        d,
        k,
        niter=niter,
        seed=seed,
        min_points_per_centroid=1,  # no "too few points" warning: k is fixed by the labels
        max_points_per_centroid=n,  # no subsampling: cluster every point
        verbose=False,
        gpu=faiss_has_gpu() if gpu is None else bool(gpu),
    )
    start = _kmeans_plus_plus(x, k, np.random.default_rng(seed)) if init == "k-means++" else None
    kmeans.train(x, init_centroids=start)
    _, assignment = kmeans.index.search(x, 1)
    clusters = assignment.ravel()
    return {
        "nmi": float(normalized_mutual_info_score(y, clusters)),
        "ami": float(adjusted_mutual_info_score(y, clusters)),
    }


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): ``[N, D] -> [k, D]`` centroids.

    The first centre is uniform; each next one is drawn with probability proportional to
    ``D(x)^2 = min_c ||x - c||^2`` over the centres chosen so far.
    """
    sq_norms = np.einsum("nd,nd->n", x, x)
    centres = np.empty((k, x.shape[1]), dtype=np.float32)
    dist2 = np.full(x.shape[0], np.inf)
    pick = int(rng.integers(x.shape[0]))
    for i in range(k):
        centres[i] = x[pick]
        new = sq_norms + sq_norms[pick] - 2.0 * (x @ x[pick])
        np.minimum(dist2, np.maximum(new, 0.0), out=dist2)
        total = dist2.sum()
        if total > 0:
            pick = int(np.searchsorted(np.cumsum(dist2), rng.random() * total, side="right"))
            pick = min(pick, x.shape[0] - 1)
        else:  # every point coincides with a centre: any point will do
            pick = int(rng.integers(x.shape[0]))
    return centres
