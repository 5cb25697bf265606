"""``data=omniglot``: the official layout on a fixture (the real archive: test_omniglot_real.py)."""

from __future__ import annotations

import logging

import fixtures
import pytest
from fixtures import assert_one_line_error

from metriclab.data.images import load_image
from metriclab.data.readers import (
    read_omniglot,
)
from metriclab.errors import ConfigError


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
