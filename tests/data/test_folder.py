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


def broken_folder(root):
    """8 classes x 3 JPEGs; a 0-byte file in a training class, a truncated JPEG and a text
    file named .jpg in test classes: ``(root, broken paths)``."""
    fixtures.make_class_folders(root, {f"c{i}": 3 for i in range(8)}, suffix=".jpg")
    empty, cut, fake = root / "c0" / "1.jpg", root / "c6" / "0.jpg", root / "c7" / "2.jpg"
    empty.write_bytes(b"")
    cut.write_bytes(cut.read_bytes()[:200])
    fake.write_text("not an image")
    return root, [str(empty), str(cut), str(fake)]


def folder_module(root, **kwargs):
    from functools import partial

    from metriclab.data import MetricDataModule

    args = dict(name="folder", root=str(root), batch_size=4, image_size=16, val_classes=1)
    return MetricDataModule(reader=partial(read_folder), **args | kwargs)


def test_broken_images_are_all_listed_before_training_or_skipped(tmp_path, caplog):
    from metriclab.data.images import UnreadableImageError

    root, broken = broken_folder(tmp_path / "imgs")
    with pytest.raises(UnreadableImageError) as info:
        folder_module(root).setup()  # the sampler never drew them: refused all the same
    message = str(info.value)
    assert message.startswith("cannot read 3 of the 24 images of data=folder: "), message
    assert all(p in message for p in broken) and "\n" not in message
    with caplog.at_level(logging.WARNING, logger="metriclab.data"):
        datamodule = folder_module(root, skip_unreadable=True)
        datamodule.setup()
    assert sum(len(d) for d in datamodule.datasets.values()) == 24 - 3  # train + val + test
    assert any("skipped 3 unreadable image(s) of 24" in m for m in caplog.messages)


@pytest.mark.slow
def test_broken_images_are_one_error_line_from_train_py(tmp_path):
    from config_helpers import one_error_line, run_train

    root, broken = broken_folder(tmp_path / "imgs")
    work = tmp_path / "work"
    work.mkdir()
    result = run_train(
        "data=folder",
        f"data.root={root}",
        "data.batch_size=4",
        "sampler.m=2",
        "backbone=small_cnn_pooled",  # refused before anything is built
        cwd=work,
    )
    error = one_error_line(result)
    assert error == result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: cannot read 3 of the 24 images of data=folder: "), error
    assert all(p in error for p in broken) and "data.skip_unreadable=true" in error
    assert not [p for p in work.rglob("*") if p.is_file()], "a refused run left files"
