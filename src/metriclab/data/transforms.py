"""Image transforms: the field's standard pipeline, and the small-image variants.

``train_augment`` choices:

- ``"standard"`` (CUB, Cars, SOP, In-Shop): ``RandomResizedCrop(image_size, scale=crop_scale)`` +
  horizontal flip;
- ``"flip_crop"`` (CIFAR): pad-free ``RandomResizedCrop`` with a mild scale + flip;
- ``"affine"`` (digits, Omniglot: handwriting, where a flip makes another character): resize to
  ``image_size``, then a random rotation, shift, scale and shear (``affine``: ``degrees``,
  ``translate`` (fraction of the side), ``scale`` (range), ``shear`` (degrees); default
  :data:`AFFINE`);
- ``"none"``: the test transform.

Test: resize the shorter side to ``resize_size`` (default ``image_size * 256 / 224`` for the
standard pipeline, ``image_size`` otherwise), then center-crop ``image_size``. Both end with
``ToTensor`` and normalisation by ``mean`` / ``std`` (one value per channel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torchvision import transforms as T

from metriclab.errors import ConfigError

AUGMENTS = ("standard", "flip_crop", "affine", "none")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The ``"affine"`` augmentation's default ranges.
AFFINE = {"degrees": 10.0, "translate": 0.1, "scale": (0.9, 1.1), "shear": 0.0}


def default_resize(image_size: int, train_augment: str) -> int:
    """The test-time resize: 256/224 of the crop for the standard pipeline, else the crop."""
    return round(image_size * 256 / 224) if train_augment == "standard" else image_size


def build_transform(
    train: bool,
    image_size: int,
    train_augment: str = "standard",
    resize_size: int | None = None,
    crop_scale: Sequence[float] = (0.16, 1.0),
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    affine: Mapping[str, Any] | None = None,
) -> T.Compose:
    """The PIL image -> ``float [C, image_size, image_size]`` transform of one split.

    ``affine`` overrides keys of :data:`AFFINE` for ``train_augment="affine"``.
    """
    if train_augment not in AUGMENTS:
        raise ConfigError(
            f"data.train_augment={train_augment!r} is not one of {', '.join(AUGMENTS)}"
        )
    if image_size < 1:
        raise ConfigError(f"data.image_size must be >= 1, got {image_size}")
    resize = resize_size or default_resize(image_size, train_augment)
    finish = [T.ToTensor(), T.Normalize(tuple(mean), tuple(std))]
    if not train or train_augment == "none":
        return T.Compose([T.Resize(resize), T.CenterCrop(image_size), *finish])
    if train_augment == "affine":
        unknown = sorted(set(affine or {}) - set(AFFINE))
        if unknown:
            raise ConfigError(f"data.affine has unknown key(s) {unknown}; use {', '.join(AFFINE)}")
        ranges = {**AFFINE, **(affine or {})}
        shift = float(ranges["translate"])
        steps = [
            T.Resize((image_size, image_size)),
            T.RandomAffine(
                degrees=float(ranges["degrees"]),
                translate=(shift, shift) if shift > 0 else None,
                scale=tuple(float(v) for v in ranges["scale"]),
                shear=float(ranges["shear"]) or None,
            ),
        ]
    else:
        scale = (0.5, 1.0) if train_augment == "flip_crop" else tuple(crop_scale)
        steps = [T.RandomResizedCrop(image_size, scale=scale), T.RandomHorizontalFlip()]
    return T.Compose([*steps, *finish])
