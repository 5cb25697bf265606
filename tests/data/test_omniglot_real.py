"""The Omniglot reader on the real data of ``../shared/data/omniglot.tar.gz`` (flat layout).

The archive is extracted once (with :func:`extract_archive`, which also exercises it on 32k real
members); the tests are skipped when the archive is absent.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from metriclab.data.download import extract_archive
from metriclab.data.images import load_image
from metriclab.data.readers import read_omniglot

ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "data" / "omniglot.tar.gz"


@pytest.fixture(scope="module")
def omniglot_root(tmp_path_factory) -> Path:
    if not ARCHIVE.is_file():
        pytest.skip(f"real Omniglot archive not found at {ARCHIVE}")
    root = tmp_path_factory.mktemp("omniglot_real")
    extract_archive(ARCHIVE, root)
    return root


def test_real_omniglot_counts_and_zero_shot_split(omniglot_root, caplog):
    with caplog.at_level(logging.INFO, logger="metriclab.data"):
        splits = read_omniglot(str(omniglot_root))  # the parent of omniglot/ works
    train, test = splits["train"], splits["test"]
    assert (len(train), len(train.classes)) == (19280, 964)
    assert (len(test), len(test.classes)) == (13180, 659)
    assert np.intersect1d(train.classes, test.classes).size == 0
    # flat layout: ids equal the folder names 0001..1623, 20 drawers each
    assert train.classes[[0, -1]].tolist() == [1, 964] and test.classes[[0, -1]].tolist() == [
        965,
        1623,
    ]
    assert np.bincount(test.labels)[965:].tolist() == [20] * 659
    assert train.items[0].endswith("omniglot/images_background/0001/0001_01.png")
    assert all(
        Path(p).name.startswith(f"{y:04d}_")
        for p, y in zip(test.items[::97], test.labels[::97], strict=True)
    )
    assert (
        "omniglot: train 19280 images / 964 classes, test 13180 images / 659 classes"
        in caplog.messages
    )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_real_omniglot_images_decode(omniglot_root):
    splits = read_omniglot(str(omniglot_root / "omniglot"))
    image = load_image(splits["test"].items[-1], mode="L")
    assert image.size == (105, 105)
    assert set(np.unique(np.asarray(image)).tolist()) <= {0, 255}
