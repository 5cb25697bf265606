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

Test: resize to ``resize_size`` (default ``image_size * 256 / 224`` for the standard pipeline,
``image_size`` otherwise), then center-crop ``image_size``. Both end with ``ToTensor`` and
normalisation by ``mean`` / ``std`` (one value per channel).

``resize`` says how a photo whose aspect ratio is not 1 meets the square the network sees:

- ``"shorter_side"``: the shorter side is scaled to ``resize_size`` (aspect kept), so the center
  crop cuts off the ends of the longer side (a 2:1 photo loses half of its width at test time);
- ``"square"``: the whole photo is squashed to ``resize_size x resize_size`` first (aspect changed,
  nothing cut off but the center crop's border); for training, the squashed square is what
  ``RandomResizedCrop`` crops from, so training and test see the same geometry.

The ``"affine"`` augmentation squashes to a square for training either way (handwriting, square
images); on square images both choices give the same pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torchvision import transforms as T

from metriclab.errors import ConfigError

AUGMENTS = ("standard", "flip_crop", "affine", "none")
#: The ways a photo is resized before the crop (see the module docstring).
RESIZES = ("shorter_side", "square")
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
    resize: str = "shorter_side",
) -> T.Compose:
    """The PIL image -> ``float [C, image_size, image_size]`` transform of one split.

    ``affine`` overrides keys of :data:`AFFINE` for ``train_augment="affine"``; ``resize`` is
    ``"shorter_side"`` or ``"square"`` (:data:`RESIZES`, the module docstring).
    """
    if train_augment not in AUGMENTS:
        raise ConfigError(
            f"data.train_augment={train_augment!r} is not one of {', '.join(AUGMENTS)}"
        )
    if resize not in RESIZES:
        raise ConfigError(
            f"data.resize={resize!r} is not one of {', '.join(RESIZES)}; shorter_side keeps the "
            "aspect ratio and crops the center, square squashes the whole photo first"
        )
    if image_size < 1:
        raise ConfigError(f"data.image_size must be >= 1, got {image_size}")
    side = resize_size or default_resize(image_size, train_augment)
    squash = [T.Resize((side, side))] if resize == "square" else []
    finish = [T.ToTensor(), T.Normalize(tuple(mean), tuple(std))]
    if not train or train_augment == "none":
        first = squash or [T.Resize(side)]
        return T.Compose([*first, T.CenterCrop(image_size), *finish])
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
        crop = T.RandomResizedCrop(image_size, scale=scale)
        steps = [*squash, crop, T.RandomHorizontalFlip()]
    return T.Compose([*steps, *finish])
