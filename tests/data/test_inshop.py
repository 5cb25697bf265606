"""``data=inshop``: In-Shop train / query / gallery from the official partition file."""

from __future__ import annotations

import fixtures
import pytest
from fixtures import assert_one_line_error

from metriclab.data.readers import (
    read_inshop,
)
from metriclab.errors import ConfigError


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
