"""An in-memory cache of decoded, resized images (``data.cache_images=true``).

Decoding a JPEG costs far more than the random crop and flip that follow it, and the decode gives
the same pixels every epoch. :func:`cache_split` decodes every image of a split once (optionally
cropped to its box), resizes it so that its shorter side is the test-time resize size (keeping the
aspect ratio; never enlarging) and keeps the ``uint8`` pixels in one flat buffer. The random
transforms still run per item and per epoch on the cached pixels, so crops differ between epochs.

Memory: about ``N * s * s * aspect * channels`` bytes for ``N`` images of shorter side ``s``; e.g.
CUB-200-2011 at ``s = 256``, RGB: about 3 GB for its 11,788 images; Omniglot at ``s = 28``: 30 MB.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from metriclab.data.base import Split
from metriclab.data.images import UnreadableImageError, load_image, refuse_or_skip

log = logging.getLogger("metriclab.data")


class ImageCache(Sequence):
    """``N`` decoded images of varying sizes in one flat ``uint8`` buffer.

    One buffer (not ``N`` arrays) keeps DataLoader workers from copying it page by page
    (copy-on-write on reference counts) and pickles in one piece for spawned workers.

    Args:
        arrays: ``N`` arrays ``uint8 [H_i, W_i]`` (grayscale) or ``[H_i, W_i, C]``.
    """

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        self.shapes = np.array([a.shape + (1,) * (3 - a.ndim) for a in arrays], dtype=np.int64)
        self.gray = bool(len(arrays)) and arrays[0].ndim == 2
        sizes = self.shapes.prod(axis=1) if len(arrays) else np.zeros(0, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.buffer = np.empty(int(self.offsets[-1]), dtype=np.uint8)
        for i, a in enumerate(arrays):
            self.buffer[self.offsets[i] : self.offsets[i + 1]] = a.reshape(-1)

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, index: int) -> np.ndarray:
        """Image ``index`` as ``uint8 [H, W]`` or ``[H, W, C]`` (a view into the buffer)."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"image {index} of a cache of {len(self)}")
        index %= len(self)
        h, w, c = self.shapes[index].tolist()
        image = self.buffer[self.offsets[index] : self.offsets[index + 1]]
        return image.reshape((h, w) if self.gray else (h, w, c))

    @property
    def nbytes(self) -> int:
        return int(self.buffer.nbytes)


def resize_shorter(image: Image.Image, size: int) -> Image.Image:
    """``image`` with its shorter side scaled down to ``size`` (aspect kept; never enlarged).

    The filter (bilinear, antialiased) and the rounding are torchvision's ``Resize(size)``, so
    a later ``Resize(size)`` of the cached image leaves it as it is.
    """
    w, h = image.size
    if min(w, h) <= size:
        return image
    if w <= h:
        new = (size, int(size * h / w))
    else:
        new = (int(size * w / h), size)
    return image.resize(new, Image.BILINEAR)


def _decode(path: str, bbox, mode: str, size: int) -> np.ndarray | str:
    """The resized pixels of one file, or the one-line reason it cannot be read."""
    try:
        return np.asarray(resize_shorter(load_image(path, bbox=bbox, mode=mode), size))
    except UnreadableImageError as exc:
        return str(exc)


def _reason(message: str, path: str) -> str:
    """The reason in :func:`load_image`'s ``cannot read image PATH: REASON; replace ...``."""
    return message.split("; replace or delete")[0].removeprefix(f"cannot read image {path}: ")


def cache_split(
    split: Split,
    mode: str,
    size: int,
    skip_unreadable: bool = False,
    name: str = "data",
    num_threads: int | None = None,
) -> Split:
    """``split`` with its image files decoded once into an :class:`ImageCache`.

    Args:
        split: a split whose items are image paths (in-memory splits are returned as they are).
        mode: ``"L"`` or ``"RGB"``.
        size: the shorter side of the cached images (the test-time resize size).
        skip_unreadable: drop (and count, in a warning) images that cannot be decoded; otherwise
            one :class:`UnreadableImageError` lists them (the first few named, all counted).
        name: the split's name, for messages.
        num_threads: decoding threads (PIL releases the GIL while decoding); default: the cores.

    Returns:
        A split of the same order (minus skipped images) with ``bboxes=None`` (already applied).
    """
    if isinstance(split.items, np.ndarray | ImageCache):
        return split
    boxes = split.bboxes if split.bboxes is not None else [None] * len(split)
    threads = num_threads or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        decoded = list(
            pool.map(_decode, split.items, boxes, [mode] * len(split), [size] * len(split))
        )
    bad = [i for i, d in enumerate(decoded) if isinstance(d, str)]
    if bad:  # every broken file in one line (the first few named, the rest counted)
        broken = [(split.items[i], _reason(decoded[i], split.items[i])) for i in bad]
        refuse_or_skip(broken, len(split), name, skip_unreadable)
    keep = np.setdiff1d(np.arange(len(split)), bad)
    cache = ImageCache([decoded[i] for i in keep])
    log.info("%s: cached %d images (%.1f MB)", name, len(cache), cache.nbytes / 2**20)
    return Split(items=cache, labels=split.labels[keep])
