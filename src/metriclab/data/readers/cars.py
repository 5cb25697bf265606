"""Cars196 / Stanford Cars (Krause et al., 2013): 16,185 photos of 196 car models.

Zero-shot protocol: classes 1-98 train (8,054 images), classes 99-196 test (8,131 images), pooling
the official classification train and test images. Two layouts exist and both are read:

- ``cars_annos.mat`` + ``car_ims/`` (the metric-learning release): ``annotations`` is a struct
  array with ``relative_im_path``, ``bbox_x1..bbox_y2``, ``class`` (1..196) and ``test``;
- the devkit release: ``devkit/cars_train_annos.mat`` + ``cars_train/`` and
  ``cars_test_annos_withlabels.mat`` (beside ``devkit/`` or in it) + ``cars_test/``; each
  ``annotations`` struct has ``bbox_x1..bbox_y2``, ``class`` and ``fname``.

Boxes are MATLAB pixel coordinates (1-based, inclusive); they are returned as 0-based
``(x, y, width, height)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from metriclab.data.base import Split
from metriclab.data.readers._common import (
    keep_existing,
    layout_error,
    parse_error,
    report,
    split_by_classes,
)
from metriclab.errors import ConfigError

EXPECTED = (
    "cars_annos.mat and car_ims/, or devkit/cars_train_annos.mat, cars_test_annos_withlabels.mat, "
    "cars_train/ and cars_test/"
)
SUBDIRS = ("", "stanford_cars", "cars196", "CARS196")


def _annotations(path: Path, fields: tuple[str, ...]) -> dict[str, list]:
    """The ``fields`` of the ``annotations`` struct array of a Cars ``.mat`` file, as lists."""
    try:
        ann = np.atleast_1d(scipy.io.loadmat(str(path), squeeze_me=True)["annotations"])
        return {f: [v.item() if isinstance(v, np.ndarray) else v for v in ann[f]] for f in fields}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise parse_error("cars", path, exc) from None


def _boxes(ann: dict[str, list]) -> np.ndarray:
    x1, y1, x2, y2 = (
        np.asarray(ann[k], dtype=np.float64) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")
    )
    return np.stack([x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1], axis=1)


def _read_annos_layout(base: Path) -> tuple[list[str], list[int], np.ndarray]:
    fields = ("relative_im_path", "class", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")
    ann = _annotations(base / "cars_annos.mat", fields)
    return [str(base / p) for p in ann["relative_im_path"]], ann["class"], _boxes(ann)


def _read_devkit_layout(base: Path, test_annos: Path) -> tuple[list[str], list[int], np.ndarray]:
    fields = ("fname", "class", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")
    paths, labels, boxes = [], [], []
    for folder, mat in (
        ("cars_train", base / "devkit" / "cars_train_annos.mat"),
        ("cars_test", test_annos),
    ):
        ann = _annotations(mat, fields)
        paths += [str(base / folder / f) for f in ann["fname"]]
        labels += ann["class"]
        boxes.append(_boxes(ann))
    return paths, labels, np.concatenate(boxes)


def read_cars(root: str, crop_bboxes: bool = False) -> dict[str, Split]:
    """Read Cars196 from ``root`` in either official layout.

    Args:
        root: ``data.root`` (the folder holding ``cars_annos.mat`` or ``devkit/``, or its parent
            ``stanford_cars``).
        crop_bboxes: also return the annotated boxes so that images are cropped to the car.

    Returns:
        ``{"train": classes 1-98, "test": classes 99-196}``; items are absolute paths, labels the
        original class ids 1..196.
    """
    if root is None:
        raise layout_error("cars", root, EXPECTED)
    for sub in SUBDIRS:
        base = (Path(root).expanduser() / sub).resolve()
        if (base / "cars_annos.mat").is_file() and (base / "car_ims").is_dir():
            paths, labels, boxes = _read_annos_layout(base)
            source = base / "cars_annos.mat"
            break
        if (base / "devkit" / "cars_train_annos.mat").is_file():
            candidates = [
                base / "cars_test_annos_withlabels.mat",
                base / "devkit" / "cars_test_annos_withlabels.mat",
            ]
            test_annos = next((c for c in candidates if c.is_file()), None)
            if test_annos is None:
                raise ConfigError(
                    f"cars: {base} has the devkit but not cars_test_annos_withlabels.mat (the test "
                    "labels; devkit/cars_test_annos.mat has none); "
                    "put that file beside devkit/ or in it"
                )
            paths, labels, boxes = _read_devkit_layout(base, test_annos)
            source = base / "devkit" / "cars_train_annos.mat"
            break
    else:
        raise layout_error("cars", root, EXPECTED)
    keep = keep_existing("cars", paths, str(source), base)
    split = Split(items=paths, labels=labels, bboxes=boxes if crop_bboxes else None).subset(keep)
    return report("cars", split_by_classes(split, np.arange(1, 99)), "cars")
