"""Your own images, one folder per class: ``ROOT/<class name>/<image>`` (sub-folders allowed).

Two ways to get a train and a test split:

- one root: the classes are split in sorted name order, the first ``train_class_fraction`` of them
  train and the rest test (class-disjoint, like CUB);
- ``test_root``: ``root`` is the train split and ``test_root`` the test split (class names may
  overlap, e.g. for a seen-class protocol; the same name gets the same id in both).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metriclab.data.base import Split
from metriclab.data.images import IMAGE_EXTENSIONS
from metriclab.data.readers._common import report, split_by_classes
from metriclab.errors import ConfigError

FIX = "set data.root to a folder with one sub-folder of images per class (ROOT/<class>/<image>.jpg)"


def _scan(root: str, option: str) -> dict[str, list[str]]:
    """``{class name: sorted absolute image paths}`` of the class folders under ``root``."""
    top = Path(root).expanduser().resolve()
    if not top.is_dir():
        raise ConfigError(f"folder: {option}={root} is not a folder; {FIX}")
    classes = {}
    for entry in sorted(p for p in top.iterdir() if p.is_dir()):
        files = [
            os.path.join(folder, f)
            for folder, _, names in os.walk(entry)
            for f in names
            if f.lower().endswith(IMAGE_EXTENSIONS)
        ]
        if files:
            classes[entry.name] = sorted(files)
    if not classes:
        raise ConfigError(
            f"folder: {option}={root} has no class folders with images "
            f"({', '.join(IMAGE_EXTENSIONS)}); {FIX}"
        )
    return classes


def _split(classes: dict[str, list[str]], ids: dict[str, int]) -> Split:
    paths = [p for name in classes for p in classes[name]]
    labels = [ids[name] for name in classes for _ in classes[name]]
    return Split(items=paths, labels=np.array(labels, dtype=np.int64))


def read_folder(
    root: str | None, test_root: str | None = None, train_class_fraction: float = 0.5
) -> dict[str, Split]:
    """Read an image-folder dataset.

    Args:
        root: the folder of class folders (the train split when ``test_root`` is given).
        test_root: optional folder of class folders for the test split.
        train_class_fraction: without ``test_root``, the fraction of classes (sorted by name) that
            train; the others test. Ignored with ``test_root``.

    Returns:
        ``{"train", "test"}``; items are absolute paths, labels the index of the class name in the
        sorted names of both splits.
    """
    if root is None:
        raise ConfigError(
            "folder: data.root is not set; point it at a folder with one sub-folder of images per "
            "class: python train.py data=folder data.root=/path/to/classes"
        )
    train = _scan(root, "data.root")
    if test_root is not None:
        test = _scan(test_root, "test_root")
        ids = {name: i for i, name in enumerate(sorted(set(train) | set(test)))}
        return report("folder", {"train": _split(train, ids), "test": _split(test, ids)})
    if not 0.0 < train_class_fraction < 1.0 or len(train) < 2:
        raise ConfigError(
            f"folder: cannot split {len(train)} classes with "
            f"train_class_fraction={train_class_fraction}; use a fraction in (0, 1) and at "
            "least 2 class folders, or give test_root"
        )
    ids = {name: i for i, name in enumerate(train)}
    num_train = min(len(ids) - 1, max(1, round(len(ids) * train_class_fraction)))
    return report("folder", split_by_classes(_split(train, ids), np.arange(num_train)))
