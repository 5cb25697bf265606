"""Frozen BatchNorm statistics (``backbone.frozen_bn``), shared by the ImageNet backbones."""

from __future__ import annotations

from torch import nn

#: The BatchNorm layers whose running statistics ``frozen_bn`` keeps (timm's ``BatchNormAct2d``
#: is a ``BatchNorm2d``).
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def batchnorm_to_eval(module: nn.Module) -> None:
    """Put every BatchNorm layer inside ``module`` in eval mode: its running mean and variance
    (ImageNet's, for a pretrained backbone) are used and no longer updated."""
    for layer in module.modules():
        if isinstance(layer, BATCH_NORMS):
            layer.eval()
