"""Any timm model as a backbone (optional: needs ``pip install timm``)."""

from __future__ import annotations

import torch
from torch import nn

from metriclab.errors import ConfigError


def _import_timm():
    """The ``timm`` module, or a one-line :class:`ConfigError` saying how to install it."""
    try:
        import timm
    except ImportError as err:
        raise ConfigError(
            "backbone=timm needs the timm package, which is not installed: pip install timm "
            "(or pick a torchvision backbone, e.g. backbone=resnet50)"
        ) from err
    return timm


class TimmBackbone(nn.Module):
    """A timm model without classifier and global pooling.

    Built by ``timm.create_model(name, pretrained=..., num_classes=0, global_pool="",
    in_chans=in_channels)``; ``num_features`` is the model's own. timm adapts the first
    convolution to ``in_channels`` (summing the pretrained RGB filters for grayscale).
    Transformers that return tokens ``[B, N, D]`` give their class token ``[B, D]`` (or, without
    one, the tokens as a ``[B, D, N, 1]`` map for the head to pool); channels-last maps
    ``[B, h, w, D]`` (e.g. Swin) are returned channels-first.

    Args:
        name: a timm model name, e.g. ``"resnet50"`` or ``"vit_small_patch16_224"``.
        pretrained: load timm's default pretrained weights (downloaded from the Hugging Face hub
            or read from its cache).
        in_channels: channels of the input images.

    Shapes:
        input ``[B, in_channels, H, W]`` -> ``[B, num_features, h, w]`` or ``[B, num_features]``.
    """

    def __init__(self, name: str, pretrained: bool = False, in_channels: int = 3) -> None:
        super().__init__()
        timm = _import_timm()
        if not timm.is_model(name):
            raise ConfigError(
                f"Unknown timm model name={name!r}; list the choices with "
                "python -c \"import timm; print(timm.list_models('resnet*'))\""
            )
        try:
            self.body = timm.create_model(
                name, pretrained=pretrained, num_classes=0, global_pool="", in_chans=in_channels
            )
        except Exception as err:  # hub, network and file errors have no common base class
            if not pretrained:
                raise
            reason = " ".join(f"{type(err).__name__}: {err}".split())
            raise ConfigError(
                f"Could not load the pretrained timm weights of {name} ({reason}); the machine "
                "may be offline: set backbone.pretrained=false, or put the weights in the Hugging "
                "Face cache (HF_HOME) on a machine with internet first"
            ) from err
        self.name = name
        self.in_channels = in_channels
        self.num_features: int = int(self.body.num_features)
        self.channels_last = getattr(self.body, "output_fmt", "NCHW") == "NHWC"
        self.has_class_token = getattr(self.body, "cls_token", None) is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, C, H, W]`` to ``[B, num_features, h, w]`` or ``[B, num_features]``."""
        out = self.body(x)
        if out.dim() == 3:  # transformer tokens [B, N, D]
            if self.has_class_token:
                return out[:, 0]
            return out.transpose(1, 2).unsqueeze(-1)
        if out.dim() == 4 and self.channels_last:
            return out.permute(0, 3, 1, 2)
        return out

    def extra_repr(self) -> str:
        return f"name={self.name!r}, num_features={self.num_features}"
