"""Scoring embeddings: retrieval metrics (Recall@K, R-precision, MAP@R) and clustering (NMI).

``score(query, query_labels, gallery=None, gallery_labels=None, ks=(1, 2, 4, 8), nmi=True, ...)``
(:mod:`.score`) is what the evaluator, the untrained column and ``scripts/eval.py`` call: the
retrieval metrics, NMI (and AMI) and the Matryoshka prefixes' metrics in one dict. Its parts:
``retrieval_metrics(query, query_labels, gallery=None, gallery_labels=None, ks=(1, 2, 4, 8))``
(:mod:`.retrieval`, the per-query formulas in :mod:`.formulas`) returns ``recall@k``,
``precision@1``, ``r_precision`` and ``map@r``; ``clustering_metrics(embeddings, labels, seed=0)``
(:mod:`.clustering`) returns ``nmi`` and ``ami``.
"""

from metriclab.metrics.clustering import clustering_metrics
from metriclab.metrics.retrieval import retrieval_metrics
from metriclab.metrics.score import score

__all__ = ["clustering_metrics", "retrieval_metrics", "score"]
