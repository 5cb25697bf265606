"""The pair-similarity chart: the margin and overlap it states, and where each colour lands."""

from __future__ import annotations

import numpy as np
import pytest

from metriclab.pictures.similarity import NEGATIVE, POSITIVE, separation, similarity_chart


def test_separation_margin_and_overlap() -> None:
    bins = np.linspace(-1, 1, 41)
    apart = separation(np.full(10, 0.9), np.full(30, -0.5), bins)
    assert apart["margin"] == pytest.approx(1.4) and apart["overlap"] == 0.0
    same = separation(np.array([0.1, 0.3]), np.array([0.1, 0.3, 0.1, 0.3]), bins)
    assert same["margin"] == pytest.approx(0.0) and same["overlap"] == pytest.approx(1.0)


def columns_of(image: np.ndarray, colour: str) -> np.ndarray:
    """Columns of the plot (the top 60 %: the legend sits under the axis) holding a pixel within
    30 (summed RGB) of ``colour`` ("#rrggbb")."""
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    plot = image[: int(0.6 * len(image))].astype(int)
    close = np.abs(plot - rgb).sum(axis=-1) < 30
    return np.flatnonzero(close.any(axis=0))


def test_chart_draws_each_distribution_where_its_similarities_are() -> None:
    rng = np.random.default_rng(0)
    pos = rng.normal(0.8, 0.03, 200).clip(-1, 1)
    neg = rng.normal(-0.4, 0.03, 2000).clip(-1, 1)
    image = similarity_chart(pos, neg, "validation, epoch 1")
    assert image.dtype == np.uint8 and image.shape == (360, 500, 3)  # width 5 in at 100 dpi
    positive, negative = columns_of(image, POSITIVE), columns_of(image, NEGATIVE)
    assert len(positive) and len(negative)
    assert np.median(positive) > np.median(negative) + 150  # same-class pairs on the right
    swapped = similarity_chart(neg, pos)
    assert np.median(columns_of(swapped, POSITIVE)) < np.median(columns_of(swapped, NEGATIVE))
