"""The official-dataset readers on tiny fixtures written in the exact official formats."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from metriclab.data.images import load_image
from metriclab.data.readers import (
    read_cars,
    read_cifar10,
    read_cifar100,
    read_cub,
    read_inshop,
    read_omniglot,
    read_sop,
)
from metriclab.errors import ConfigError

try:  # tests/ as a package, or (pytest's default) this folder on sys.path
    from tests.data import fixtures
except ImportError:
    import fixtures


def assert_one_line_error(exc: ConfigError, *parts: str) -> None:
    message = str(exc)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)


# --- CUB-200-2011 -----------------------------------------------------------------------------


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


# --- Cars196 ----------------------------------------------------------------------------------


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


# --- CIFAR ------------------------------------------------------------------------------------


def test_cifar10_class_disjoint_decodes_official_pickles(tmp_path):
    fixtures.make_cifar10(tmp_path)
    splits = read_cifar10(str(tmp_path))
    train, test = splits["train"], splits["test"]
    assert train.classes.tolist() == [0, 1, 2, 3, 4] and test.classes.tolist() == [5, 6, 7, 8, 9]
    assert (len(train), len(test)) == (30, 30)
    assert isinstance(train.items, np.ndarray) and train.items.shape == (30, 32, 32, 3)
    assert train.items.dtype == np.uint8
    # channel order: red plane = label, green = 7 (see fixtures._cifar_batch)
    np.testing.assert_array_equal(train.items[:, 5, 9, 0], train.labels)
    assert (train.items[..., 1] == 7).all()


def test_cifar10_seen_classes_protocol(tmp_path):
    fixtures.make_cifar10(tmp_path)
    splits = read_cifar10(str(tmp_path / "cifar-10-batches-py"), protocol="seen_classes")
    assert (len(splits["train"]), len(splits["test"])) == (50, 10)
    assert splits["train"].classes.tolist() == splits["test"].classes.tolist() == list(range(10))
    # the test split is test_batch (blue = index + 100)
    assert splits["test"].items[3, 0, 0, 2] == 103


def test_cifar100_protocols(tmp_path, caplog):
    fixtures.make_cifar100(tmp_path)
    disjoint = read_cifar100(str(tmp_path))
    assert disjoint["train"].classes.tolist() == list(range(50))
    assert disjoint["test"].classes.tolist() == list(range(50, 100))
    assert (len(disjoint["train"]), len(disjoint["test"])) == (150, 150)
    with caplog.at_level(logging.WARNING, logger="metriclab.data"):
        seen = read_cifar100(str(tmp_path), protocol="seen_classes")
    assert (len(seen["train"]), len(seen["test"])) == (200, 100)
    assert any("instead of 50000 / 100" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigError, match="protocol"):
        read_cifar100(str(tmp_path), protocol="zero_shot")


def test_cifar_wrong_root(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_cifar10(str(tmp_path))
    assert_one_line_error(info.value, "cifar10", "cifar-10-batches-py", "prepare_data.py cifar10")


# --- Stanford Online Products -----------------------------------------------------------------


def test_sop_official_split(tmp_path):
    base = fixtures.make_sop(tmp_path)
    splits = read_sop(str(tmp_path))
    assert splits["train"].classes.tolist() == [1, 2, 3]
    assert splits["test"].classes.tolist() == [11319, 11320]
    assert (len(splits["train"]), len(splits["test"])) == (6, 4)
    assert splits["train"].items[0] == str(base / "bicycle_final" / "111085122872_0.JPG")


def test_sop_wrong_root(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_sop(str(tmp_path))
    assert_one_line_error(info.value, "sop", "Ebay_train.txt", "prepare_data.py sop")


# --- In-Shop ----------------------------------------------------------------------------------


@pytest.mark.parametrize("nested", [True, False])
def test_inshop_train_query_gallery(tmp_path, nested):
    fixtures.make_inshop(tmp_path, nested=nested)
    splits = read_inshop(str(tmp_path))
    assert list(splits) == ["train", "query", "gallery"]
    assert splits["train"].classes.tolist() == [1, 2, 3]
    assert splits["query"].classes.tolist() == splits["gallery"].classes.tolist() == [7, 9]
    assert [len(s) for s in splits.values()] == [6, 2, 4]
    image_root = tmp_path / "Img" if nested else tmp_path
    assert splits["query"].items[0].startswith(str(image_root / "img" / "WOMEN"))


def test_inshop_wrong_root(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_inshop(str(tmp_path))
    assert_one_line_error(info.value, "inshop", "list_eval_partition.txt", "prepare_data.py inshop")


# --- Omniglot (official layout; the flat layout is tested on the real data) ---------------------


def test_omniglot_official_layout(tmp_path, caplog):
    fixtures.make_omniglot_official(tmp_path)
    with caplog.at_level(logging.INFO, logger="metriclab.data"):
        splits = read_omniglot(str(tmp_path))
    assert splits["train"].classes.tolist() == [1, 2, 3]
    assert splits["test"].classes.tolist() == [4, 5]
    assert (len(splits["train"]), len(splits["test"])) == (6, 4)
    assert splits["train"].items[0].endswith("Alphabet_of_the_Magi/character01/0001_01.png")
    assert load_image(splits["test"].items[0], mode="L").size == (105, 105)
    assert any("instead of 19280 / 964" in r.getMessage() for r in caplog.records)


def test_omniglot_wrong_root(tmp_path):
    (tmp_path / "images_background").mkdir()
    with pytest.raises(ConfigError) as info:
        read_omniglot(str(tmp_path))
    assert_one_line_error(info.value, "omniglot", "images_evaluation", "prepare_data.py omniglot")
