"""Checking what a client sent before it reaches the model: forms, images, ``k``, class names.

Every refusal is a :class:`~metriclab.service.gallery.GalleryError` (an HTTP status and
one line saying what and why), answered as ``{"error": "..."}``:

- a body that is not ``multipart/form-data`` -> 415; no ``Content-Length`` -> 411; a body over
  ``max_upload_mb`` -> 413; a malformed multipart body -> 400;
- an ``image`` field missing or empty -> 422; bytes that are not an image of a known format, or a
  truncated file -> 422; more than ``max_pixels`` pixels (checked from the header, before
  decoding) -> 413; more images than ``max_images`` -> 413;
- ``k`` not an integer in ``1..max_k`` -> 422 (a ``k`` above the gallery's size is capped to it);
- a class name that is empty, longer than 100 characters, or holds a path separator, ``..``, a
  control character or a leading dot -> 422.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image

from metriclab.data.images import IMAGE_EXTENSIONS
from metriclab.service.gallery import GalleryError

CLASS_NAME = re.compile(r"^[^\x00-\x1f\x7f/\\.][^\x00-\x1f\x7f/\\]{0,99}$")
SUFFIX = {"JPEG": ".jpg", "MPO": ".jpg", "TIFF": ".tif"}


@dataclass(frozen=True)
class Limits:
    """What one request may hold (the service's settings)."""

    max_pixels: int = 20_000_000
    max_upload_bytes: int = 32 << 20
    max_images: int = 64
    max_k: int = 100
    default_k: int = 5


def check_image(data: bytes, name: str, limits: Limits) -> str:
    """The file suffix of an acceptable image (``".png"``), or a :class:`GalleryError`."""
    if not data:
        raise GalleryError(422, f"image {name!r} is empty (0 bytes); send an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > limits.max_pixels:
                    raise GalleryError(
                        413,
                        f"image {name!r} is {width}x{height} = {width * height / 1e6:.1f} "
                        f"megapixels, over the limit of {limits.max_pixels / 1e6:g}; send a "
                        "smaller image",
                    )
                suffix = SUFFIX.get(str(image.format), f".{str(image.format).lower()}")
                image.load()  # a truncated file fails here
    except GalleryError:
        raise
    except Image.DecompressionBombError:
        raise GalleryError(413, f"image {name!r} has too many pixels to decode safely") from None
    except Image.UnidentifiedImageError:
        raise GalleryError(
            422, f"image {name!r} is not an image of a format PIL reads; send a PNG or JPEG file"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:  # e.g. "image file is truncated"
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise GalleryError(
            422, f"image {name!r} is not a readable image ({reason}); send a PNG or JPEG file"
        ) from None
    if suffix not in IMAGE_EXTENSIONS:
        raise GalleryError(
            422,
            f"image {name!r} is a {suffix[1:]} image; send one of {', '.join(IMAGE_EXTENSIONS)}",
        )
    return suffix


def check_k(text: str | None, limits: Limits) -> int:
    """``k`` of a search: an integer ``1..max_k`` (default ``limits.default_k``)."""
    if text is None or text == "":
        return limits.default_k
    try:
        k = int(text)
    except ValueError:
        raise GalleryError(422, f"k={text[:40]!r} is not an integer; send e.g. k=5") from None
    if not 1 <= k <= limits.max_k:
        raise GalleryError(
            422, f"k={k} is out of range; k must be 1..{limits.max_k} (matches per image)"
        )
    return k


def check_class_name(text: str | None) -> str:
    """A class name safe to store and show (see the module docstring)."""
    name = (text or "").strip()
    if not name:
        raise GalleryError(422, "no class given; send the form field class=NAME")
    if not CLASS_NAME.match(name) or ".." in name:
        raise GalleryError(
            422,
            f"class={name[:60]!r} is not allowed: use 1-100 characters without '/', a backslash, "
            "'..', a leading '.' or control characters",
        )
    return name
