"""Scoring embeddings: retrieval metrics (Recall@K, R-precision, MAP@R) and clustering (NMI).

``retrieval_metrics(query, query_labels, gallery=None, gallery_labels=None, ks=(1, 2, 4, 8))``
returns ``recall@k``, ``precision@1``, ``r_precision`` and ``map@r``;
``clustering_metrics(embeddings, labels, seed=0)`` returns ``nmi`` and ``ami``.
"""

from metriclab.metrics.clustering import clustering_metrics
from metriclab.metrics.retrieval import retrieval_metrics

__all__ = ["clustering_metrics", "retrieval_metrics"]
