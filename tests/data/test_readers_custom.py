"""The readers for users' own data: one folder per class, and a CSV table."""

from __future__ import annotations

import logging

import pytest

from metriclab.data.readers import read_csv, read_folder
from metriclab.errors import ConfigError

try:  # tests/ as a package, or (pytest's default) this folder on sys.path
    from tests.data import fixtures
except ImportError:
    import fixtures

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


def test_csv_with_split_column_and_class_names(tmp_path):
    fixtures.make_class_folders(tmp_path / "imgs", COUNTS)
    rows = ["path,label,split"]
    rows += [f"imgs/ant/{i}.png,ant,train" for i in range(2)]
    rows += [f"imgs/bee/{i}.png,bee,train" for i in range(3)]
    rows += [
        "imgs/cat/0.png,cat,query",
        f"{tmp_path}/imgs/dog/0.png,dog,gallery",
        "imgs/dog/1.png,cat,gallery",
    ]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    splits = read_csv(str(tmp_path / "table.csv"))
    assert list(splits) == ["train", "query", "gallery"]
    assert splits["train"].classes.tolist() == [0, 1]  # ant, bee (sorted names)
    assert splits["gallery"].labels.tolist() == [3, 2]  # dog, cat
    assert splits["query"].items[0] == str(tmp_path / "imgs" / "cat" / "0.png")


def test_csv_without_header_or_split_column_uses_int_labels(tmp_path):
    fixtures.make_class_folders(tmp_path / "imgs", COUNTS)
    rows = [
        f"{name}/{i}.png,{10 * (k + 1)}"
        for k, (name, n) in enumerate(COUNTS.items())
        for i in range(n)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows))
    splits = read_csv(str(tmp_path / "t.csv"), image_root=str(tmp_path / "imgs"))
    assert splits["train"].classes.tolist() == [10, 20]
    assert splits["test"].classes.tolist() == [30, 40]


def test_csv_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="is not a file"):
        read_csv(str(tmp_path / "none.csv"))
    fixtures.make_class_folders(tmp_path, {"a": 1, "b": 1})
    table = tmp_path / "t.csv"
    table.write_text("a/0.png,0,train\nb/0.png,1,validation\n")
    with pytest.raises(ConfigError, match="validation"):
        read_csv(str(table))
    table.write_text("a/0.png,0,train\nb/9.png,1,test\n")
    with pytest.raises(ConfigError) as info:
        read_csv(str(table))
    assert "\n" not in str(info.value) and "b/9.png" in str(info.value)
