"""Decoding image files, with errors that name the file.

:func:`load_image` is what a dataset calls per item: it decodes one file (optionally cropped to a
bounding box) and converts it to ``"RGB"`` or ``"L"``. A file that cannot be decoded raises an
:class:`UnreadableImageError` whose one line names the file and the reason.

Skipping broken images is opt-in: :func:`drop_unreadable` decodes every image of a split once,
drops the ones that fail and logs how many it dropped (and the first of them). Without it, the first
broken image stops the run with the file's name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from metriclab.data.base import Split
from metriclab.errors import ConfigError

log = logging.getLogger("metriclab.data")

#: File name endings (lower case) that readers of image folders treat as images.
IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".pbm",
)


class UnreadableImageError(ConfigError):
    """An image file that does not exist or cannot be decoded (one line naming the file).

    A DataLoader worker's error comes back re-raised as ``UnreadableImageError("Caught ... in
    DataLoader worker process 0. Original Traceback ...")``; only the original line is kept.
    """

    def __init__(self, message: str) -> None:
        lines = str(message).strip().splitlines()
        if len(lines) > 1:
            last = lines[-1]
            message = last.split(": ", 1)[1] if "UnreadableImageError: " in last else last
        super().__init__(message)


def load_image(
    path: str, bbox: Sequence[float] | np.ndarray | None = None, mode: str = "RGB"
) -> Image.Image:
    """Decode the image at ``path`` and convert it to ``mode`` (``"RGB"`` or ``"L"``).

    Args:
        path: an image file.
        bbox: optional crop box ``(x, y, width, height)`` in pixels (as in :class:`Split`); it is
            rounded to whole pixels and clipped to the image (a box that misses the image
            entirely leaves it uncropped).
        mode: the PIL mode of the result.

    Raises:
        UnreadableImageError: the file is missing, truncated or not an image.
    """
    try:
        with Image.open(path) as image:
            image = image.convert(mode)  # forces the full decode inside the ``with``
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableImageError(
            f"cannot read image {path}: {reason}; replace or delete the file, "
            "or set data.skip_unreadable=true to skip broken images"
        ) from None
    if bbox is not None:
        x, y, w, h = (float(v) for v in bbox)
        left, top = max(0, round(x)), max(0, round(y))
        right, bottom = min(image.width, round(x + w)), min(image.height, round(y + h))
        if right > left and bottom > top:
            image = image.crop((left, top, right, bottom))
    return image


def unreadable_reason(path: str) -> str | None:
    """``None`` when ``path`` decodes, else the one-line reason it does not."""
    try:
        load_image(path)
    except UnreadableImageError as exc:
        return str(exc).split("; replace or delete")[0]
    return None


def find_unreadable(paths: Sequence[str], num_workers: int = 4) -> list[tuple[int, str]]:
    """Decode every file of ``paths``; return ``(index, reason)`` for each one that fails.

    Decoding is I/O and C code, so a few threads (``num_workers``) speed it up.
    """
    with ThreadPoolExecutor(max_workers=max(1, num_workers)) as pool:
        reasons = list(pool.map(unreadable_reason, paths, chunksize=64))
    return [(i, r) for i, r in enumerate(reasons) if r is not None]


def drop_unreadable(split: Split, name: str = "data", num_workers: int = 4) -> Split:
    """``split`` without the images that cannot be decoded; logs a warning counting them.

    In-memory splits (decoded arrays, e.g. CIFAR) are returned as they are.
    """
    if isinstance(split.items, np.ndarray):
        return split
    bad = find_unreadable(list(split.items), num_workers=num_workers)
    if not bad:
        return split
    log.warning(
        "%s: skipped %d unreadable image(s) of %d (first: %s)",
        name,
        len(bad),
        len(split),
        bad[0][1],
    )
    keep = np.setdiff1d(np.arange(len(split)), [i for i, _ in bad])
    return split.subset(keep)
