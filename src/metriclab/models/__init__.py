"""Backbones and the embedding head: images ``[B, C, H, W]`` -> embeddings ``[B, E]``.

A backbone has ``num_features`` and returns ``[B, num_features, h, w]`` (or ``[B, num_features]``);
:class:`EmbeddingHead` pools and projects it; :class:`EmbeddingModel` joins the two.
"""

from metriclab.models.efficientnet_lite import EfficientNetLite
from metriclab.models.embedder import EmbeddingModel
from metriclab.models.head import EmbeddingHead
from metriclab.models.pooling import GeneralizedMeanPooling, GlobalPooling
from metriclab.models.small_cnn import SmallCNN
from metriclab.models.timm import TimmBackbone
from metriclab.models.torchvision_backbones import TorchvisionBackbone

__all__ = [
    "EfficientNetLite",
    "EmbeddingHead",
    "EmbeddingModel",
    "GeneralizedMeanPooling",
    "GlobalPooling",
    "SmallCNN",
    "TimmBackbone",
    "TorchvisionBackbone",
]
