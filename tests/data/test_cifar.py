"""``data=cifar10`` / ``data=cifar100``: the official pickles decoded, both protocols."""

from __future__ import annotations

import logging

import fixtures
import numpy as np
import pytest
from fixtures import assert_one_line_error

from metriclab.data.readers import (
    read_cifar10,
    read_cifar100,
)
from metriclab.errors import ConfigError


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
