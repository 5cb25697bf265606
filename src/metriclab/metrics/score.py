"""``score``: every number an embedding set is judged by, in one call.

The evaluator callback (``val/…``, ``test/…`` of a run), the untrained column of the final table
(:mod:`metriclab.pipeline.summary`) and ``scripts/eval.py`` (:mod:`metriclab.commands.evaluate`)
embed their splits their own way (Lightning's test loop, a loop over the test loaders, a
checkpoint reopened), then all score the embeddings here, so the three give the same numbers for
the same embeddings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F

from metriclab.metrics.clustering import clustering_metrics
from metriclab.metrics.retrieval import retrieval_metrics


def score(
    query: Any,
    query_labels: Any,
    gallery: Any = None,
    gallery_labels: Any = None,
    *,
    ks: Iterable[int] = (1, 2, 4, 8),
    nmi: bool = True,
    ami: bool = False,
    seed: int = 0,
    prefix_dims: Iterable[int] = (),
    on_search: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Retrieval metrics of ``query`` against ``gallery`` (or itself), its clustering, and the
    retrieval metrics of its shorter prefixes.

    Args:
        query: ``[Nq, D]`` embeddings (numpy array or torch tensor, any device).
        query_labels: ``[Nq]`` integer labels.
        gallery: ``[Ng, D]`` embeddings, or ``None``: the query set is its own gallery (each
            query left out of its own neighbours).
        gallery_labels: ``[Ng]`` labels, given exactly when ``gallery`` is.
        ks: the ``k`` of ``recall@k``.
        nmi: add ``nmi`` of k-means on the query embeddings (``k`` = number of classes).
        ami: add ``ami`` (the same k-means run, chance-adjusted).
        seed: the k-means seed.
        prefix_dims: for each ``d < D``, the retrieval metrics of the re-normalised first ``d``
            dimensions, ``e[:, :d] / ||e[:, :d]||``, keyed ``<metric>@<d>`` (Matryoshka
            prefixes); a ``d >= D`` is skipped.
        on_search: called once with the k-NN search path that ran (see
            :func:`~metriclab.metrics.retrieval.retrieval_metrics`).

    Returns:
        ``recall@k``, ``precision@1``, ``r_precision``, ``map@r`` (see
        :func:`~metriclab.metrics.retrieval.retrieval_metrics`), then ``nmi`` / ``ami``, then
        ``<metric>@<d>`` per prefix; floats.
    """
    ks = tuple(int(k) for k in ks)
    metrics = retrieval_metrics(
        query, query_labels, gallery, gallery_labels, ks=ks, on_search=on_search
    )
    if nmi or ami:
        clusters = clustering_metrics(query, query_labels, seed=seed)
        metrics |= {name: clusters[name] for name, wanted in (("nmi", nmi), ("ami", ami)) if wanted}
    width = query.shape[1]
    for d in prefix_dims:
        if int(d) < width:
            metrics |= prefix_metrics(int(d), query, query_labels, gallery, gallery_labels, ks)
    return {key: float(value) for key, value in metrics.items()}


def prefix_metrics(
    d: int, query: Any, query_labels: Any, gallery: Any, gallery_labels: Any, ks: Iterable[int]
) -> dict[str, float]:
    """Retrieval metrics of the re-normalised ``d``-dimensional prefixes, keyed ``<metric>@<d>``."""
    cut = [
        None if x is None else F.normalize(torch.as_tensor(x)[:, :d], dim=1)
        for x in (query, gallery)
    ]
    found = retrieval_metrics(cut[0], query_labels, cut[1], gallery_labels, ks=ks)
    return {f"{key}@{d}": value for key, value in found.items()}
