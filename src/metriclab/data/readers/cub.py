"""CUB-200-2011 (Wah et al., 2011): 11,788 photos of 200 bird species.

Zero-shot protocol of the metric-learning papers (Oh Song et al., 2016): classes 1-100 train
(5,864 images), classes 101-200 test (5,924 images); the official train/test image split is not
used. Official layout (``CUB_200_2011.tgz``)::

    CUB_200_2011/images.txt              <image_id> <relative path>      (1-based ids)
    CUB_200_2011/image_class_labels.txt  <image_id> <class_id>           (class ids 1..200)
    CUB_200_2011/bounding_boxes.txt      <image_id> <x> <y> <width> <height>
    CUB_200_2011/images/<class folder>/<file>.jpg
"""

from __future__ import annotations

import numpy as np

from metriclab.data.base import Split
from metriclab.data.readers._common import (
    find_root,
    keep_existing,
    parse_error,
    read_lines,
    report,
    split_by_classes,
)

EXPECTED = (
    "images.txt, image_class_labels.txt and images/ (the CUB_200_2011 folder of CUB_200_2011.tgz)"
)


def read_cub(root: str, crop_bboxes: bool = False) -> dict[str, Split]:
    """Read CUB-200-2011 from ``root`` (the ``CUB_200_2011`` folder or the folder holding it).

    Args:
        root: ``data.root``.
        crop_bboxes: also return the boxes of ``bounding_boxes.txt`` (``x, y, width, height`` in
            pixels, as published) so that images are cropped to the bird.

    Returns:
        ``{"train": classes 1-100, "test": classes 101-200}``; items are absolute paths, labels the
        original class ids 1..200.
    """
    base = find_root(
        "cub", root, ["images.txt", "image_class_labels.txt", "images"], EXPECTED, ["CUB_200_2011"]
    )
    try:
        names = {int(i): rel for i, rel in read_lines("cub", base / "images.txt", maxsplit=1)}
    except ValueError as exc:
        raise parse_error("cub", base / "images.txt", exc) from None
    try:
        classes = {int(i): int(c) for i, c in read_lines("cub", base / "image_class_labels.txt")}
        ids = sorted(names)
        labels = np.array([classes[i] for i in ids], dtype=np.int64)
    except (ValueError, KeyError) as exc:
        raise parse_error("cub", base / "image_class_labels.txt", exc) from None
    bboxes = None
    if crop_bboxes:
        box_file = base / "bounding_boxes.txt"
        try:
            boxes = {int(r[0]): [float(v) for v in r[1:5]] for r in read_lines("cub", box_file)}
            bboxes = np.array([boxes[i] for i in ids], dtype=np.float64)
        except (ValueError, KeyError) as exc:
            raise parse_error("cub", box_file, exc) from None
    paths = [str(base / "images" / names[i]) for i in ids]
    keep = keep_existing("cub", paths, str(base / "images.txt"), base.parent)
    split = Split(items=paths, labels=labels, bboxes=bboxes).subset(keep)
    return report("cub", split_by_classes(split, np.arange(1, 101)), "cub")
