"""Evaluation of embeddings: retrieval metrics from exact k-NN, clustering metrics from k-means.

``retrieval_metrics(query, query_labels, gallery=None, gallery_labels=None, ks=(1, 2, 4, 8))``
returns ``recall@k``, ``precision@1``, ``r_precision`` and ``map@r``;
``clustering_metrics(embeddings, labels, seed=0)`` returns ``nmi`` and ``ami``.
The exact k-NN behind them (:func:`nearest_neighbors`) runs in query chunks with a running top-k
on CPU (FAISS) or GPU (faiss-gpu, or a torch matmul); see :mod:`metriclab.evaluation.backends`.
"""

from metriclab.evaluation.clustering import clustering_metrics
from metriclab.evaluation.knn import nearest_neighbors
from metriclab.evaluation.retrieval import retrieval_metrics

__all__ = ["clustering_metrics", "nearest_neighbors", "retrieval_metrics"]
