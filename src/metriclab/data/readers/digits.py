"""scikit-learn's bundled 8x8 handwritten digits (UCI optical recognition set): no download.

1,797 grayscale images of the digits 0-9 (about 180 each), 8x8 pixels with values 0-16, shipped
inside scikit-learn. Class-disjoint protocol: digits 0-4 train, 5-9 test (about 900 / 900).
"""

from __future__ import annotations

import numpy as np

from metriclab.data.base import Split
from metriclab.data.readers._common import report, split_by_classes


def read_digits(root: str | None = None, train_classes: int = 5) -> dict[str, Split]:
    """Read the digits from scikit-learn (``root`` is ignored: the data ships with the package).

    Args:
        root: unused; accepted so every reader has the same call.
        train_classes: the digits ``0..train_classes-1`` train, the others test.

    Returns:
        ``{"train", "test"}``; items ``uint8 [N, 8, 8]`` scaled to 0-255, labels the digit.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    split = Split(items=images, labels=bunch.target.astype(np.int64))
    return report("digits", split_by_classes(split, np.arange(train_classes)))
