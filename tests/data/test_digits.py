"""``data=digits``: scikit-learn's 8x8 digits, split by class (no download)."""

from __future__ import annotations

import numpy as np

from metriclab.data.readers import read_digits


def test_digits_0_to_4_train_and_5_to_9_test() -> None:
    splits = read_digits(train_classes=5)
    train, test = splits["train"], splits["test"]
    assert set(np.unique(train.labels)) == {0, 1, 2, 3, 4}
    assert set(np.unique(test.labels)) == {5, 6, 7, 8, 9}
    assert len(train.labels) + len(test.labels) == 1797  # every image of the set, once
    assert train.items.dtype == np.uint8 and train.items.shape[1:] == (8, 8)
    assert train.items.max() == 255
