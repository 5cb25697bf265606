"""``data=folder``: one folder per class (a single root split by sorted class names, or a separate
test root)."""

from __future__ import annotations

import logging

import fixtures
import pytest

from metriclab.data.readers import read_folder
from metriclab.errors import ConfigError

COUNTS = {"ant": 2, "bee": 3, "cat": 1, "dog": 2}


def test_folder_single_root_is_split_by_sorted_class_names(tmp_path, caplog):
    fixtures.make_class_folders(tmp_path, COUNTS)
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "bee" / "notes.txt").write_text("not an image")
    with caplog.at_level(logging.INFO, logger="metriclab.data"):
        splits = read_folder(str(tmp_path))
    assert splits["train"].classes.tolist() == [0, 1]  # ant, bee
    assert splits["test"].classes.tolist() == [2, 3]  # cat, dog
    assert (len(splits["train"]), len(splits["test"])) == (5, 3)
    assert all(p.startswith(str(tmp_path)) and p.endswith(".png") for p in splits["train"].items)
    assert "folder: train 5 images / 2 classes, test 3 images / 2 classes" in caplog.messages
    splits = read_folder(str(tmp_path), train_class_fraction=0.75)
    assert splits["test"].classes.tolist() == [3]


def test_folder_separate_test_root_shares_ids_by_name(tmp_path):
    fixtures.make_class_folders(tmp_path / "train", {"ant": 2, "bee": 2})
    fixtures.make_class_folders(tmp_path / "test", {"bee": 1, "cow": 2}, suffix=".JPG")
    splits = read_folder(str(tmp_path / "train"), test_root=str(tmp_path / "test"))
    assert splits["train"].classes.tolist() == [0, 1]
    assert splits["test"].classes.tolist() == [1, 2]  # bee keeps its id
    assert len(splits["test"]) == 3


def test_folder_errors(tmp_path):
    with pytest.raises(ConfigError) as info:
        read_folder(str(tmp_path / "missing"))
    assert "\n" not in str(info.value) and str(tmp_path / "missing") in str(info.value)
    (tmp_path / "a").mkdir()
    with pytest.raises(ConfigError, match="no class folders with images"):
        read_folder(str(tmp_path))
    fixtures.make_class_folders(tmp_path, {"only": 2})
    with pytest.raises(ConfigError, match="cannot split 1 classes"):
        read_folder(str(tmp_path))
