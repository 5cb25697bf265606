"""``data=csv``: a table of ``path,label[,split]``, with or without a header."""

from __future__ import annotations

import fixtures
import pytest

from metriclab.data.readers import read_csv
from metriclab.errors import ConfigError

COUNTS = {"ant": 2, "bee": 3, "cat": 1, "dog": 2}


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


def test_broken_images_in_the_table_are_all_listed_before_training(tmp_path):
    from functools import partial

    from metriclab.data import MetricDataModule
    from metriclab.data.images import UnreadableImageError

    fixtures.make_class_folders(tmp_path / "imgs", COUNTS)
    rows = [f"imgs/{name}/{i}.png,{name}" for name, n in COUNTS.items() for i in range(n)]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    for broken in ("ant/1.png", "dog/0.png"):
        (tmp_path / "imgs" / broken).write_bytes(b"")
    args = dict(name="csv", root=str(tmp_path / "table.csv"), batch_size=2, val_classes=0)
    with pytest.raises(UnreadableImageError) as info:
        MetricDataModule(reader=partial(read_csv), **args).setup()
    message = str(info.value)
    assert message.startswith("cannot read 2 of the 8 images of data=csv: "), message
    assert "ant/1.png (empty file (0 bytes))" in message and "dog/0.png" in message
    datamodule = MetricDataModule(reader=partial(read_csv), skip_unreadable=True, **args)
    datamodule.setup()
    assert sum(len(d) for d in datamodule.datasets.values()) == 6
