"""``data=cars``: the Cars196 reader on fixtures of both official layouts (``cars_annos.mat``
and the devkit)."""

from __future__ import annotations

import fixtures
import numpy as np
import pytest
from fixtures import assert_one_line_error

from metriclab.data.readers import (
    read_cars,
)
from metriclab.errors import ConfigError


def test_cars_annos_layout(tmp_path):
    fixtures.make_cars_annos(tmp_path)
    splits = read_cars(str(tmp_path), crop_bboxes=True)
    assert splits["train"].classes.tolist() == [1, 2, 98]
    assert splits["test"].classes.tolist() == [99, 100, 196]
    assert splits["train"].items[0] == str(tmp_path / "car_ims" / "000001.jpg")
    # MATLAB box (x1=3, y1=2, x2=30, y2=20), 1-based inclusive -> (2, 1, 28, 19)
    np.testing.assert_allclose(splits["train"].bboxes[0], [2, 1, 28, 19])
    assert read_cars(str(tmp_path))["train"].bboxes is None


@pytest.mark.parametrize("in_devkit", [False, True])
def test_cars_devkit_layout_pools_train_and_test_images(tmp_path, in_devkit):
    fixtures.make_cars_devkit(tmp_path, test_annos_in_devkit=in_devkit)
    splits = read_cars(str(tmp_path))
    assert splits["train"].classes.tolist() == [1, 2, 98]
    assert splits["test"].classes.tolist() == [99, 100, 196]
    assert (len(splits["train"]), len(splits["test"])) == (6, 6)
    folders = {p.split("/")[-2] for p in splits["test"].items}
    assert folders == {"cars_train", "cars_test"}


def test_cars_devkit_without_test_labels(tmp_path):
    fixtures.make_cars_devkit(tmp_path)
    (tmp_path / "cars_test_annos_withlabels.mat").unlink()
    with pytest.raises(ConfigError) as info:
        read_cars(str(tmp_path))
    assert_one_line_error(info.value, "cars_test_annos_withlabels.mat")


def test_cars_wrong_root(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_cars(str(tmp_path))
    assert_one_line_error(
        info.value,
        "cars",
        str(tmp_path),
        "cars_annos.mat",
        "car_ims/",
        "devkit/",
        "prepare_data.py cars",
    )
