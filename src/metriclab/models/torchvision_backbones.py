"""ImageNet backbones from torchvision with the classifier and the global pooling removed."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import nn

from metriclab.errors import ConfigError
from metriclab.models.batchnorm import batchnorm_to_eval
from metriclab.models.torchvision_weights import download_state_dict, load_into, read_state_dict

# Families whose feature extractor we know how to cut out: name prefix -> the parts dropped.
_FAMILIES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("resnet", "resnext", "wide_resnet", "regnet"): ("fc.",),
    ("googlenet",): ("fc.", "aux1.", "aux2."),
    ("efficientnet", "mobilenet"): ("classifier.",),
    ("convnext",): ("classifier.2.",),
    ("vit_",): ("heads.",),
}


def _family(name: str) -> tuple[str, tuple[str, ...]]:
    """``(family prefix, dropped key prefixes)`` of torchvision model ``name``."""
    available = torchvision.models.list_models(module=torchvision.models)
    for prefixes, dropped in _FAMILIES.items():
        for prefix in prefixes:
            if name.startswith(prefix) and name in available:
                return prefix, dropped
    families = ", ".join(p for group in _FAMILIES for p in group)
    raise ConfigError(
        f"Unknown torchvision backbone name={name!r}; use a torchvision classification model of "
        f"the families {families} (e.g. backbone=resnet50), or backbone=timm for other models"
    )


def _googlenet_body(model: nn.Module) -> nn.Sequential:
    """GoogLeNet's layers from ``conv1`` to ``inception5b`` (output ``[B, 1024, h, w]``)."""
    drop = {"avgpool", "dropout", "fc", "aux1", "aux2"}
    layers = [(n, m) for n, m in model.named_children() if n not in drop and m is not None]
    if model.transform_input:  # ImageNet weights expect torchvision's input re-normalisation
        layers.insert(0, ("transform", _GoogLeNetInput()))
    return nn.Sequential(OrderedDict(layers))


class _GoogLeNetInput(nn.Module):
    """Maps ImageNet-normalised input to the ``[-1, 1]`` range GoogLeNet's weights were made for."""

    def __init__(self) -> None:
        super().__init__()
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        self.register_buffer("scale", (std / 0.5).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", ((mean - 0.5) / 0.5).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class TorchvisionBackbone(nn.Module):
    """A torchvision ImageNet classifier cut before its global pooling.

    Known to work: ``resnet18`` (``num_features`` 512), ``resnet50`` (2048), ``googlenet`` (1024),
    ``efficientnet_b0`` (1280), ``convnext_tiny`` (768), ``vit_b_16`` (768); other members of
    the ResNet, ResNeXt, Wide-ResNet, RegNet, EfficientNet, MobileNet, ConvNeXt and ViT families
    work the same way. ConvNeXt keeps its final LayerNorm, applied per position (as timm does).
    ViT returns the class token ``[B, 768]`` and, as in torchvision, accepts only its training
    size (224x224 for ``vit_b_16``).

    Args:
        name: the torchvision model name, e.g. ``"resnet50"``.
        pretrained: load torchvision's default ImageNet weights (``...Weights.DEFAULT``), which
            needs internet or a file in torch hub's cache; offline, use ``weights_path``.
        weights_path: a local torchvision state dict file (e.g. ``resnet50-11ad3fa6.pth``); used
            whatever ``pretrained`` says. Classifier keys may be missing; they are ignored.
        in_channels: 3 (RGB) or 1 (grayscale, repeated to 3 channels in ``forward``).
        frozen_bn: keep every BatchNorm in eval mode even under ``train()``, so its running
            statistics stay as loaded (useful with small batches). Its affine weight and bias
            still learn; freeze those with ``requires_grad_(False)`` if wanted. No effect on
            ConvNeXt and ViT, which use LayerNorm.

    Shapes:
        input ``[B, in_channels, H, W]`` (ImageNet-normalised) -> ``[B, num_features, h, w]``
        (``h = H / 32`` for CNNs) or ``[B, num_features]`` (ViT).
    """

    def __init__(
        self,
        name: str,
        pretrained: bool = False,
        weights_path: str | None = None,
        in_channels: int = 3,
        frozen_bn: bool = False,
    ) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ConfigError(
                f"TorchvisionBackbone supports in_channels 1 or 3, got in_channels={in_channels}; "
                "convert the images to grayscale or RGB (data.channels=1 or 3)"
            )
        family, dropped = _family(name)
        with_weights = bool(pretrained or weights_path)
        kwargs = {}
        if family == "googlenet":
            kwargs = {"aux_logits": False, "init_weights": True, "transform_input": with_weights}
        model = torchvision.models.get_model(name, weights=None, **kwargs)
        if weights_path:
            state = read_state_dict(weights_path)
            load_into(model, state, name, f"backbone.weights_path={weights_path}", dropped)
        elif pretrained:
            load_into(model, download_state_dict(name), name, "the ImageNet download", dropped)

        self.body, self.num_features = self._strip(family, model)
        self.name = name
        self.in_channels = in_channels
        self.frozen_bn = frozen_bn
        self.train(self.training)

    @staticmethod
    def _strip(family: str, model: nn.Module) -> tuple[nn.Module, int]:
        """The feature extractor of ``model`` and its output channels."""
        if family == "googlenet":
            return _googlenet_body(model), model.fc.in_features
        if family == "vit_":
            model.heads = nn.Identity()  # forward now returns the class token [B, hidden_dim]
            return model, model.hidden_dim
        if family in ("efficientnet", "mobilenet", "convnext"):
            linear = next(m for m in model.classifier if isinstance(m, nn.Linear))
            parts = [("features", model.features)]
            if family == "convnext":
                parts.append(("norm", model.classifier[0]))  # LayerNorm2d over channels
            return nn.Sequential(OrderedDict(parts)), linear.in_features
        keep = [(n, m) for n, m in model.named_children() if n not in ("avgpool", "fc")]
        return nn.Sequential(OrderedDict(keep)), model.fc.in_features

    def train(self, mode: bool = True) -> TorchvisionBackbone:
        """Set train/eval mode; with ``frozen_bn`` every BatchNorm stays in eval mode."""
        super().train(mode)
        if self.frozen_bn:
            batchnorm_to_eval(self)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, in_channels, H, W]`` to ``[B, num_features, h, w]`` (or ``[B, D]``)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self.name} backbone expects [B, {self.in_channels}, H, W] images, got shape "
                f"{tuple(x.shape)}; set backbone.in_channels to the images' channel count"
            )
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.body(x)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, num_features={self.num_features}, frozen_bn={self.frozen_bn}"
