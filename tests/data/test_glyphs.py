"""The generated glyphs: deterministic, class-disjoint, distorted per sample, and the default."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from metriclab.data.readers import glyphs
from metriclab.errors import ConfigError

SMALL = dict(classes=12, train_classes=6, samples_per_class=5, image_size=20)


def test_same_seed_same_pixels_another_seed_other_glyphs() -> None:
    a, b = glyphs.read_glyphs(**SMALL), glyphs.read_glyphs(**SMALL)
    assert np.array_equal(a["train"].items, b["train"].items)
    other = glyphs.read_glyphs(**SMALL, seed=1)
    assert not np.array_equal(a["train"].items, other["train"].items)


def test_splits_are_class_disjoint_with_the_counts_asked_for() -> None:
    splits = glyphs.read_glyphs(**SMALL)
    train, test = splits["train"], splits["test"]
    assert train.items.shape == (30, 20, 20) and train.items.dtype == np.uint8
    assert list(train.classes) == list(range(6)) and list(test.classes) == list(range(6, 12))
    assert np.bincount(test.labels)[6:].tolist() == [5] * 6


def test_a_class_is_its_own_drawings_closer_than_other_classes() -> None:
    """Noise-free, undistorted drawings of one glyph are nearer each other than other glyphs'."""
    clean = dict(SMALL, jitter=0.0, distortion=0.0, noise=0.0)
    items = glyphs.read_glyphs(**clean)["train"].items.astype(float).reshape(6, 5, -1)
    assert all(np.array_equal(items[c, 0], items[c, i]) for c in range(6) for i in range(5))
    noisy = glyphs.read_glyphs(**SMALL)["train"].items.astype(float).reshape(6, 5, -1)
    assert not np.array_equal(noisy[0, 0], noisy[0, 1])  # each drawing differs
    centres = noisy.mean(1)
    dist = ((noisy[:, :, None] - centres[None, None]) ** 2).sum(-1)  # [class, sample, centre]
    assert (dist.argmin(-1) == np.arange(6)[:, None]).mean() >= 0.9


def test_render_matches_pillow_lines_box_filtered() -> None:
    """The renderer against a direct Pillow drawing of the same polyline at 4x, box-filtered."""
    curve = np.array([[[[0.2, 0.2], [0.5, 0.8], [0.8, 0.3]]]])  # [1 glyph, 1 stroke, 3 points, 2]
    ink = glyphs.render(curve, np.array([1.5]), 16)[0]
    big = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(big).line([(12.8, 12.8), (32.0, 51.2), (51.2, 19.2)], fill=255, width=6)
    expected = np.asarray(big.resize((16, 16), Image.Resampling.BOX), dtype=float) / 255
    np.testing.assert_allclose(ink, expected, atol=1e-6)
    assert 0 < ink.max() <= 1 and ink[0, 0] == 0


def test_bezier_ends_at_its_end_points_and_bends_toward_the_middle_one() -> None:
    points = np.array([[0.0, 0.0], [0.5, 1.0], [1.0, 0.0]])
    curve = glyphs.bezier(points)
    np.testing.assert_allclose(curve[0], points[0])
    np.testing.assert_allclose(curve[-1], points[2])
    t = np.linspace(0, 1, glyphs.CURVE_POINTS)
    np.testing.assert_allclose(curve[:, 1], 2 * t * (1 - t))  # B_y(t) = 2t(1-t) * 1


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (dict(classes=10, train_classes=9), "train_classes=9 must leave at least 2"),
        (dict(samples_per_class=1), "samples_per_class >= 2"),
    ],
)
def test_impossible_sizes_are_one_line_errors(options: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        glyphs.read_glyphs(**{**SMALL, **options})


def test_glyphs_is_the_default_and_digits_an_option() -> None:
    from config_helpers import compose_config

    cfg = compose_config([])
    assert cfg.data.name == "glyphs" and cfg.optimized_metric == "val/map@r"
    assert cfg.hydra.runtime.choices.backbone == "small_cnn_pooled"
    assert cfg.backbone.flatten is False and cfg.data.reader.image_size == cfg.data.image_size
    digits = compose_config(["data=digits"])
    assert digits.data.name == "digits" and digits.backbone.flatten is True
    chosen = compose_config(["backbone=small_cnn"])  # the command line beats the data's choice
    assert chosen.data.name == "glyphs" and chosen.backbone.flatten is True
