"""Metric-learning losses: ``loss(embeddings [B, D], labels [B], indices_tuple=None) -> scalar``."""

from metriclab.losses.arcface import ArcFaceLoss
from metriclab.losses.base import PairLoss, ProxyLoss
from metriclab.losses.circle import CircleLoss
from metriclab.losses.contrastive import ContrastiveLoss
from metriclab.losses.cosface import CosFaceLoss
from metriclab.losses.cross_batch_memory import CrossBatchMemory
from metriclab.losses.joint_cross_entropy import JointCrossEntropyLoss
from metriclab.losses.matryoshka import MatryoshkaLoss
from metriclab.losses.multi_similarity import MultiSimilarityLoss
from metriclab.losses.normalized_softmax import NormSoftmaxLoss
from metriclab.losses.npair import NPairLoss
from metriclab.losses.proxy_anchor import ProxyAnchorLoss
from metriclab.losses.proxy_nca import ProxyNCALoss
from metriclab.losses.triplet_margin import TripletMarginLoss

__all__ = [
    "ArcFaceLoss",
    "CircleLoss",
    "ContrastiveLoss",
    "CosFaceLoss",
    "CrossBatchMemory",
    "JointCrossEntropyLoss",
    "MatryoshkaLoss",
    "MultiSimilarityLoss",
    "NPairLoss",
    "NormSoftmaxLoss",
    "PairLoss",
    "ProxyAnchorLoss",
    "ProxyLoss",
    "ProxyNCALoss",
    "TripletMarginLoss",
]
