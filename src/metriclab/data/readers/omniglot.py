"""Omniglot (Lake et al., 2015): 32,460 handwritten characters, 1,623 classes, 20 drawers each.

Zero-shot protocol: the 964 ``images_background`` characters (19,280 images) train, the 659
``images_evaluation`` characters (13,180 images) test. Both layouts are read:

- official: ``images_background/<alphabet>/characterNN/CCCC_DD.png`` (the two zips of
  brendenlake/omniglot, extracted side by side);
- flat, one folder per character: ``images_background/<character>/CCCC_DD.png``.

A class is any folder that holds images directly. Class ids are 1-based, background first, in
sorted folder order; for the flat layout named ``0001..1623`` they equal the folder names.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metriclab.data.base import Split
from metriclab.data.images import IMAGE_EXTENSIONS
from metriclab.data.readers._common import find_root, report

SETS = {"train": "images_background", "test": "images_evaluation"}
EXPECTED = (
    "images_background/ and images_evaluation/ (one folder per character, or per alphabet then "
    "character)"
)


def _class_folders(top: Path) -> list[tuple[str, list[str]]]:
    """``(folder, sorted image file names)`` of every folder under ``top`` that holds images."""
    found = []
    for folder, _, files in os.walk(top):
        images = sorted(f for f in files if f.lower().endswith(IMAGE_EXTENSIONS))
        if images:
            found.append((folder, images))
    return sorted(found)


def read_omniglot(root: str) -> dict[str, Split]:
    """Read Omniglot from ``root``, the folder holding ``images_background`` and
    ``images_evaluation`` (or its parent with ``omniglot/`` or torchvision's ``omniglot-py/``).

    Returns:
        ``{"train": background characters, "test": evaluation characters}``; items are absolute
        paths to the 105x105 binary PNGs, labels 1-based character ids.
    """
    base = find_root("omniglot", root, list(SETS.values()), EXPECTED, ["omniglot", "omniglot-py"])
    splits, next_id = {}, 1
    for key, folder in SETS.items():
        paths, labels = [], []
        for class_id, (directory, files) in enumerate(_class_folders(base / folder), start=next_id):
            paths += [os.path.join(directory, f) for f in files]
            labels += [class_id] * len(files)
            next_id = class_id + 1
        splits[key] = Split(items=paths, labels=np.array(labels, dtype=np.int64))
    return report("omniglot", splits, "omniglot")
