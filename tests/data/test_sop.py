"""``data=sop``: Stanford Online Products, the official split files."""

from __future__ import annotations

import fixtures
import pytest
from fixtures import assert_one_line_error

from metriclab.data.readers import (
    read_sop,
)
from metriclab.errors import ConfigError


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
