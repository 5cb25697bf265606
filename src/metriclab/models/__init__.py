"""Backbones and the embedding head: images ``[B, C, H, W]`` -> embeddings ``[B, E]``.

A backbone has ``num_features`` and returns ``[B, num_features, h, w]`` (or ``[B, num_features]``);
:class:`EmbeddingHead` pools and projects it; :class:`EmbeddingModel` joins the two.

One name end to end: ``backbone=<name>`` is ``configs/backbone/<name>.yaml``, whose ``_target_``
is a class of ``src/metriclab/models/<name>.py`` tested in ``tests/models/test_<name>.py``; a
family of configs shares its family's module: ``efficientnet_lite0..2`` and
``efficientnet_lite_concat`` -> ``efficientnet_lite.py``,
torchvision's ``resnet18``, ``resnet50``, ``googlenet``, ``convnext_tiny``, ``vit_b_16``,
``efficientnet_b0`` -> ``torchvision_backbones.py``, ``small_cnn_pooled`` -> ``small_cnn.py``.
``head=default`` is :class:`EmbeddingHead` in ``head.py``. A new backbone goes in a module of its
own (an ``nn.Module`` with ``num_features``), is exported below, and gets a config and a test.
"""

from metriclab.models.efficientnet_lite import EfficientNetLite, EfficientNetLiteConcat
from metriclab.models.embedder import EmbeddingModel
from metriclab.models.head import EmbeddingHead
from metriclab.models.pooling import GeneralizedMeanPooling, GlobalPooling
from metriclab.models.small_cnn import SmallCNN
from metriclab.models.timm import TimmBackbone
from metriclab.models.torchvision_backbones import TorchvisionBackbone

__all__ = [
    "EfficientNetLite",
    "EfficientNetLiteConcat",
    "EmbeddingHead",
    "EmbeddingModel",
    "GeneralizedMeanPooling",
    "GlobalPooling",
    "SmallCNN",
    "TimmBackbone",
    "TorchvisionBackbone",
]
