"""Glyphs: a procedurally generated many-class image set (the embedded default, no download).

Each class is a made-up character: ``strokes`` quadratic Bézier curves whose control points are
drawn once per class (``numpy.random.default_rng((seed, class))``) on the unit square. Each sample
of the class is the same character drawn by another hand: every control point moves by
``N(0, jitter^2)``, the whole glyph is rotated, scaled, sheared and shifted at random, the pen
width varies, and pixel noise is added. Each curve is drawn as a polyline of
:data:`CURVE_POINTS` points ``B(t)``, at :data:`SUPERSAMPLE` times the side, and box-filtered down
(anti-aliased strokes). 8,000 images of 20x20 take about a second to draw.

Class-disjoint protocol, as Omniglot's: classes ``0..train_classes-1`` train (the datamodule
slices validation classes off their end), the other ``classes - train_classes`` test. The same
``seed`` gives the same pixels on every machine (NumPy's PCG64 streams, Pillow's rasteriser).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from metriclab.data.base import Split
from metriclab.data.readers._common import report, split_by_classes
from metriclab.errors import ConfigError

#: Points sampled along each Bézier stroke (the polyline has one fewer segments).
CURVE_POINTS = 12
#: Glyphs are drawn at this multiple of the side, then box-filtered down (anti-aliasing).
SUPERSAMPLE = 4


def class_strokes(rng: np.random.Generator, strokes: int) -> np.ndarray:
    """``float [strokes, 3, 2]``: control points (start, bend, end) in ``[0.15, 0.85]^2``.

    Each stroke starts where the previous one ended with probability 1/2 (connected shapes).
    """
    points = rng.uniform(0.15, 0.85, size=(strokes, 3, 2))
    for s in range(1, strokes):
        if rng.random() < 0.5:
            points[s, 0] = points[s - 1, 2]
    return points


def bezier(points: np.ndarray) -> np.ndarray:
    """``[..., 3, 2]`` control points -> ``[..., CURVE_POINTS, 2]`` points on each curve:
    ``B(t) = (1-t)^2 P0 + 2 t (1-t) P1 + t^2 P2``."""
    t = np.linspace(0.0, 1.0, CURVE_POINTS)[:, None]
    p0, p1, p2 = (points[..., i, None, :] for i in range(3))
    return (1 - t) ** 2 * p0 + 2 * t * (1 - t) * p1 + t**2 * p2


def random_affine(rng: np.random.Generator, n: int, distortion: float) -> np.ndarray:
    """``float [n, 2, 3]``: rotation (±15°), scale (±12%), shear (±0.15), shift (±8%), each
    range times ``distortion``, about the glyph's centre ``(0.5, 0.5)``."""
    angle = np.deg2rad(rng.uniform(-15, 15, n) * distortion)
    scale = 1 + rng.uniform(-0.12, 0.12, (n, 2)) * distortion
    shear = rng.uniform(-0.15, 0.15, n) * distortion
    shift = rng.uniform(-0.08, 0.08, (n, 2)) * distortion
    cos, sin = np.cos(angle), np.sin(angle)
    rot = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # [n, 2, 2]
    shear_m = np.zeros((n, 2, 2))
    shear_m[:, 0, 0] = shear_m[:, 1, 1] = 1
    shear_m[:, 0, 1] = shear
    linear = rot @ shear_m * scale[:, :, None]
    centre = np.array([0.5, 0.5])
    offset = centre + shift - linear @ centre
    return np.concatenate([linear, offset[:, :, None]], axis=2)


def render(curves: np.ndarray, widths: np.ndarray, size: int) -> np.ndarray:
    """``float [n, size, size]`` ink in ``[0, 1]`` of polylines ``curves [n, K, P, 2]`` (unit
    square coordinates, ``x`` right and ``y`` down) with pen ``widths [n]`` in pixels.

    Each glyph is drawn by Pillow at ``SUPERSAMPLE`` times the side, then box-filtered down: the
    ink of a pixel is the fraction of its area the pen covered (anti-aliased strokes).
    """
    big = size * SUPERSAMPLE
    out = np.empty((len(curves), size, size), dtype=np.float32)
    for i, glyph in enumerate(curves):
        canvas = Image.new("L", (big, big), 0)
        draw = ImageDraw.Draw(canvas)
        pen = max(1, round(float(widths[i]) * SUPERSAMPLE))
        for stroke in glyph:
            draw.line([tuple(p) for p in (stroke * big).tolist()], fill=255, width=pen)
        out[i] = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float32)
    return out / 255.0


def draw_class(
    label: int,
    samples: int,
    size: int,
    strokes: int,
    jitter: float,
    distortion: float,
    noise: float,
    seed: int,
) -> np.ndarray:
    """``uint8 [samples, size, size]``: white strokes on black, every sample of class ``label``."""
    shape_rng = np.random.default_rng((seed, label, 0))
    hand_rng = np.random.default_rng((seed, label, 1))
    points = class_strokes(shape_rng, strokes)[None] + hand_rng.normal(
        0.0, jitter, (samples, strokes, 3, 2)
    )
    curves = bezier(points)  # [n, K, P, 2]
    affine = random_affine(hand_rng, samples, distortion)
    curves = curves @ affine[:, None, :, :2].transpose(0, 1, 3, 2) + affine[:, None, None, :, 2]
    widths = (1.25 + hand_rng.uniform(-0.35, 0.35, samples) * distortion) * size / 16  # pen
    ink = render(curves, widths, size)
    ink = ink + hand_rng.normal(0.0, noise, ink.shape)
    return np.round(np.clip(ink, 0.0, 1.0) * 255).astype(np.uint8)


def read_glyphs(
    root: str | None = None,
    classes: int = 400,
    train_classes: int = 200,
    samples_per_class: int = 20,
    image_size: int = 20,
    strokes: int = 3,
    jitter: float = 0.05,
    distortion: float = 1.0,
    noise: float = 0.1,
    seed: int = 0,
) -> dict[str, Split]:
    """Generate the glyph set (``root`` is ignored: nothing is read from disk).

    Args:
        root: unused; accepted so every reader has the same call.
        classes: made-up characters in all; ``train_classes`` of them train, the rest test.
        samples_per_class: drawings of each character.
        image_size: side of each image, pixels.
        strokes: Bézier strokes per character.
        jitter: per-sample standard deviation of each control point (fraction of the side).
        distortion: scales the per-sample rotation, scale, shear, shift and pen-width ranges
            (0: none).
        noise: standard deviation of the Gaussian pixel noise (ink is 0-1).
        seed: the set's seed (independent of the run's ``seed``: the data stay the same).

    Returns:
        ``{"train", "test"}``; items ``uint8 [N, image_size, image_size]``, labels the class id.
    """
    if not 2 <= train_classes <= classes - 2:
        raise ConfigError(
            f"glyphs: data.reader.train_classes={train_classes} must leave at least 2 of the "
            f"data.reader.classes={classes} classes on each side; e.g. train_classes={classes // 2}"
        )
    if samples_per_class < 2 or image_size < 4 or strokes < 1:
        raise ConfigError(
            "glyphs: need data.reader.samples_per_class >= 2, image_size >= 4 and strokes >= 1; "
            f"got {samples_per_class}, {image_size}, {strokes}"
        )
    images = np.concatenate(
        [
            draw_class(c, samples_per_class, image_size, strokes, jitter, distortion, noise, seed)
            for c in range(classes)
        ]
    )
    labels = np.repeat(np.arange(classes, dtype=np.int64), samples_per_class)
    split = Split(items=images, labels=labels)
    return report("glyphs", split_by_classes(split, np.arange(train_classes)))
