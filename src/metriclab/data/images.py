"""Decoding image files, with errors that name the file.

:func:`load_image` is what a dataset calls per item: it decodes one file (optionally cropped to a
bounding box) and converts it to ``"RGB"`` or ``"L"``. A file that cannot be decoded raises an
:class:`UnreadableImageError` whose one line names the file and the reason.

Before training, :func:`check_readable` looks at every image file of every split once, cheaply
(its size, its header, and the end marker of a JPEG; a suspect file is decoded to confirm), so a
broken image stops the run up front with one line listing the broken files (the first few and
their count), not minutes later when the sampler first draws it. With ``data.skip_unreadable=true``
they are dropped instead and a warning says how many. (:func:`drop_unreadable` is the full-decode
variant for one split.)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
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


#: Broken files named in the one-line error (the rest are counted).
SHOWN_BROKEN = 3


def decode_reason(path: str) -> str | None:
    """``None`` when ``path`` decodes in full, else the reason alone (without the path)."""
    message = unreadable_reason(path)
    return None if message is None else message.removeprefix(f"cannot read image {path}: ")


def quick_reason(path: str) -> str | None:
    """``None`` when ``path`` looks like a whole image, else the one-line reason it is not.

    Cheap: the file's size, PIL's header parse, PNG's chunk checksums (``verify``) and a JPEG's
    end-of-image marker ``FF D9``. A JPEG without the marker at its very end (truncated, or with
    bytes appended after it) is decoded in full to tell which.
    """
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        return f"cannot open it: {exc.strerror or type(exc).__name__}"
    if size == 0:
        return "empty file (0 bytes)"
    try:
        with Image.open(path) as image:
            kind = image.format
            if kind == "PNG":
                image.verify()
            if min(image.size) < 1:
                return f"image of size {image.size}"
        if kind == "JPEG":
            with open(path, "rb") as file:
                file.seek(-2, os.SEEK_END)
                if file.read(2) != b"\xff\xd9":
                    return decode_reason(path)  # a full decode decides
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def unreadable_message(broken: Sequence[tuple[str, str]], total: int, name: str) -> str:
    """The one error line for ``broken`` ``(path, reason)`` pairs among ``total`` images:
    the first :data:`SHOWN_BROKEN` named, the rest counted, and the two fixes."""
    if len(broken) == 1:
        path, reason = broken[0]
        return (
            f"cannot read image {path}: {reason}; replace or delete the file, "
            "or set data.skip_unreadable=true to skip broken images"
        )
    return (
        f"cannot read {len(broken)} of the {total} images of {name}: {broken_listing(broken)}; "
        "replace or delete them, or set data.skip_unreadable=true to skip broken images"
    )


def broken_listing(broken: Sequence[tuple[str, str]]) -> str:
    """``"PATH (reason); PATH (reason); PATH (reason); and N more"``."""
    named = "; ".join(f"{path} ({reason})" for path, reason in broken[:SHOWN_BROKEN])
    more = f"; and {len(broken) - SHOWN_BROKEN} more" if len(broken) > SHOWN_BROKEN else ""
    return named + more


def refuse_or_skip(broken: Sequence[tuple[str, str]], total: int, name: str, skip: bool) -> None:
    """Raise the one :class:`UnreadableImageError` line for ``broken`` ``(path, reason)`` pairs
    among ``total`` images, or, with ``skip`` (``data.skip_unreadable=true``), log one warning
    counting them (the caller drops them)."""
    if not skip:
        raise UnreadableImageError(unreadable_message(broken, total, name))
    log.warning(
        "%s: skipped %d unreadable image(s) of %d (data.skip_unreadable=true): %s",
        name,
        len(broken),
        total,
        broken_listing(broken),
    )


def check_readable(
    splits: Mapping[str, Split], name: str = "data", skip: bool = False, num_workers: int = 4
) -> dict[str, Split]:
    """``splits`` once every image file of each has passed :func:`quick_reason`.

    Without ``skip`` a broken file raises one :class:`UnreadableImageError` listing all of them
    (first few and count); with ``skip`` they are dropped and one warning counts them.
    In-memory splits (decoded arrays) pass as they are. Cost: a header read per file.
    """
    paths = sorted(
        {p for s in splits.values() if not isinstance(s.items, np.ndarray) for p in s.items}
    )
    if not paths:
        return dict(splits)
    with ThreadPoolExecutor(max_workers=max(1, num_workers)) as pool:
        reasons = dict(zip(paths, pool.map(quick_reason, paths, chunksize=64), strict=True))
    broken = [(p, r) for p, r in reasons.items() if r is not None]
    if not broken:
        return dict(splits)
    refuse_or_skip(broken, len(paths), name, skip)
    out = {}
    for key, split in splits.items():
        if isinstance(split.items, np.ndarray):
            out[key] = split
            continue
        keep = [i for i, p in enumerate(split.items) if reasons[p] is None]
        out[key] = split if len(keep) == len(split) else split.subset(np.asarray(keep))
    return out


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
