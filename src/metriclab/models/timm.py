"""Any timm model as a backbone (optional: needs ``pip install timm``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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
        weights_path: a local weights file of this model (``.pth``, ``.bin`` or
            ``.safetensors``, e.g. from ``timm.create_model(name, pretrained=True)`` on a machine
            with internet); used instead of the download, whatever ``pretrained`` says.
        in_channels: channels of the input images.
        mean, std: the input normalisation the data config reads (``${backbone.mean}``); with
            weights, it must be the model's own (``pretrained_cfg``), else a :class:`ConfigError`
            gives the right values.

    Shapes:
        input ``[B, in_channels, H, W]`` -> ``[B, num_features, h, w]`` or ``[B, num_features]``.
    """

    def __init__(
        self,
        name: str,
        pretrained: bool = False,
        in_channels: int = 3,
        weights_path: str | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        timm = _import_timm()
        if not timm.is_model(name):
            raise ConfigError(
                f"Unknown timm model name={name!r}; list the choices with "
                "python -c \"import timm; print(timm.list_models('resnet*'))\""
            )
        if weights_path and not Path(weights_path).expanduser().is_file():
            raise ConfigError(
                f"backbone.weights_path={weights_path} does not exist; give a weights file of "
                f"the timm model {name}, or set backbone.weights_path=null"
            )
        with_weights = bool(pretrained or weights_path)
        try:
            self.body = timm.create_model(
                name,
                pretrained=bool(pretrained and not weights_path),
                num_classes=0,
                global_pool="",
                in_chans=in_channels,
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
        if weights_path:
            self._load_file(timm, name, str(Path(weights_path).expanduser()))
        self.name = name
        self.in_channels = in_channels
        self.mean, self.std = self._normalisation(with_weights, mean, std)
        self.num_features: int = int(self.body.num_features)
        self.channels_last = getattr(self.body, "output_fmt", "NCHW") == "NHWC"
        self.has_class_token = getattr(self.body, "cls_token", None) is not None

    def _load_file(self, timm, name: str, path: str) -> None:
        """Load a local state dict strictly (its classifier, if any, is dropped)."""
        source = f"backbone.weights_path={path}"
        try:
            state = timm.models.load_state_dict(path)
        except Exception as err:  # pickle, zip and safetensors errors have no common base
            reason = " ".join(f"{type(err).__name__}: {err}".split())[:300]
            raise ConfigError(f"Could not read {source} ({reason}); give a state dict") from err
        classifier = (self.body.pretrained_cfg or {}).get("classifier") or ()
        heads = (classifier,) if isinstance(classifier, str) else tuple(classifier)
        state = {k: v for k, v in state.items() if not k.startswith(tuple(f"{h}." for h in heads))}
        try:
            result = self.body.load_state_dict(state, strict=False)
        except RuntimeError as err:  # mis-shaped tensors
            reason = " ".join(str(err).split())[:300]
            raise ConfigError(
                f"Could not load {source} into the timm model {name} ({reason}); give the "
                "weights of this model"
            ) from err
        if result.missing_keys or result.unexpected_keys:
            raise ConfigError(
                f"Could not load {source} into the timm model {name}: "
                f"{len(result.missing_keys)} missing keys (e.g. {result.missing_keys[:3]}) and "
                f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[:3]}); "
                "give the weights of this model"
            )

    def _normalisation(self, with_weights: bool, mean, std) -> tuple[tuple, tuple]:
        """``(mean, std)``: as given, or the model's own; a mismatch with weights is refused."""
        own = self.body.pretrained_cfg or {}
        own_mean, own_std = tuple(own.get("mean", ())), tuple(own.get("std", ()))
        mean = tuple(float(v) for v in mean) if mean is not None else own_mean
        std = tuple(float(v) for v in std) if std is not None else own_std
        if with_weights and own_mean and self.in_channels == len(own_mean):
            close = all(
                abs(a - b) < 1e-3 for a, b in zip(mean + std, own_mean + own_std, strict=False)
            )
            if len(mean) != len(own_mean) or len(std) != len(own_std) or not close:
                raise ConfigError(
                    f"backbone.mean={list(mean)} / backbone.std={list(std)} differ from the "
                    f"normalisation the timm weights of {self.name} were trained with; set "
                    f"backbone.mean={list(own_mean)} backbone.std={list(own_std)}"
                )
        return mean, std

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
