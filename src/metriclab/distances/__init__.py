"""Distances and similarities between embeddings (``[N, D], [M, D] -> [N, M]``)."""

from metriclab.distances.base import BaseDistance
from metriclab.distances.cosine import CosineSimilarity
from metriclab.distances.dot_product import DotProductSimilarity
from metriclab.distances.euclidean import EuclideanDistance

__all__ = ["BaseDistance", "CosineSimilarity", "DotProductSimilarity", "EuclideanDistance"]
