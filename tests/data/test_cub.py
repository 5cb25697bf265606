"""``data=cub``: the CUB-200-2011 reader on a fixture in the official layout (classes 1-100 train,
101-200 test), and on the real 100-class subset in ``../shared/data``."""

from __future__ import annotations

import logging

import fixtures
import numpy as np
import pytest
from fixtures import assert_one_line_error

from metriclab.data.images import load_image
from metriclab.data.readers import (
    read_cub,
)
from metriclab.errors import ConfigError


def test_cub_splits_classes_1_100_from_101_200(tmp_path):
    base = fixtures.make_cub(tmp_path)
    splits = read_cub(str(tmp_path))  # the folder holding CUB_200_2011/ works too
    assert set(splits) == {"train", "test"}
    assert splits["train"].classes.tolist() == [1, 2, 3, 100]
    assert splits["test"].classes.tolist() == [101, 102, 200]
    assert (len(splits["train"]), len(splits["test"])) == (8, 6)
    # 1-based image ids: image 1 is the first line of images.txt, of class 1
    first = splits["train"].items[0]
    assert first == str(base / "images" / "001.Bird_1" / "Bird_1_0000_1.jpg")
    assert splits["train"].bboxes is None


def test_cub_bounding_boxes(tmp_path):
    fixtures.make_cub(tmp_path)
    splits = read_cub(str(tmp_path / "CUB_200_2011"), crop_bboxes=True)
    boxes = splits["test"].bboxes
    assert boxes.shape == (6, 4)
    # images 9 and 10 are class 101, k = 0 and 1: "x y w h" = "5+k 4 20 10+k"
    np.testing.assert_allclose(boxes[:2], [[5, 4, 20, 10], [6, 4, 20, 11]])
    image = load_image(splits["test"].items[1], bbox=boxes[1])
    assert image.size == (20, 11)


def test_cub_wrong_root_is_one_actionable_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_cub(str(tmp_path / "nowhere"))
    assert_one_line_error(
        info.value,
        "cub",
        str(tmp_path / "nowhere"),
        "images.txt",
        "python scripts/prepare_data.py cub --root",
    )


def test_cub_counts_warning_and_missing_images(tmp_path, caplog):
    base = fixtures.make_cub(tmp_path)
    (base / "images" / "001.Bird_1" / "Bird_1_0000_1.jpg").unlink()
    with caplog.at_level(logging.INFO, logger="metriclab.data"):
        splits = read_cub(str(base))
    assert len(splits["train"]) + len(splits["test"]) == 13
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(
        m.startswith("cub: train 7 images / 4 classes, test 6 images / 3 classes") for m in info
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("1 of 14 images listed" in m and "missing" in m for m in warnings)
    assert any("instead of 5864 / 100" in m for m in warnings)
