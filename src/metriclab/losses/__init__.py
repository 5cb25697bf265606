"""Metric-learning losses: ``loss(embeddings [B, D], labels [B], indices_tuple=None) -> scalar``.

One name end to end: ``loss=<name>`` is ``configs/loss/<name>.yaml``, whose ``_target_`` is a class
of ``src/metriclab/losses/<name>.py``, tested in ``tests/losses/test_<name>.py``. A new loss goes
there (a :class:`PairLoss` or :class:`ProxyLoss` subclass, or a plain ``nn.Module`` with this
signature), is exported below, and is checked against an independent reference.
"""

from metriclab.losses.arcface import ArcFaceLoss
from metriclab.losses.base import PairLoss, ProxyLoss
from metriclab.losses.circle import CircleLoss
from metriclab.losses.contrastive import ContrastiveLoss
from metriclab.losses.cosface import CosFaceLoss
from metriclab.losses.joint_ce import JointCrossEntropyLoss
from metriclab.losses.matryoshka import MatryoshkaLoss
from metriclab.losses.multisim import MultiSimilarityLoss
from metriclab.losses.normsoftmax import NormSoftmaxLoss
from metriclab.losses.npair import NPairLoss
from metriclab.losses.proxy_anchor import ProxyAnchorLoss
from metriclab.losses.proxy_nca import ProxyNCALoss
from metriclab.losses.triplet import TripletMarginLoss
from metriclab.losses.xbm import CrossBatchMemory

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
