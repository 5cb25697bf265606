"""Your own images listed in a CSV table: ``path,label[,split]``, one row per image.

- ``path``: absolute, or relative to ``image_root`` (default: the CSV file's folder);
- ``label``: an integer class id or a class name (names get ids in sorted order);
- ``split`` (optional): ``train``, ``test``, or ``train``, ``query``, ``gallery`` for query/gallery
  evaluation. Without it, the classes are split in sorted order: the first
  ``train_class_fraction`` of them train, the rest test.

A header row ``path,label[,split]`` is optional. Example::

    path,label,split
    birds/0001.jpg,sparrow,train
    birds/0002.jpg,robin,test
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from metriclab.data.base import Split
from metriclab.data.readers._common import report, split_by_classes
from metriclab.errors import ConfigError

SPLITS = ("train", "test", "query", "gallery")
FIX = "set data.root to a CSV file of path,label[,split] rows"


def _rows(table: Path) -> list[list[str]]:
    try:
        with open(table, newline="", encoding="utf-8") as f:
            rows = [
                [c.strip() for c in r] for r in csv.reader(f) if r and any(c.strip() for c in r)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"csv: cannot read data.root={table} ({exc}); {FIX}") from None
    if rows and [c.lower() for c in rows[0]] in (["path", "label"], ["path", "label", "split"]):
        rows = rows[1:]
    widths = {len(r) for r in rows}
    if not rows or not widths <= {2, 3} or len(widths) > 1:
        raise ConfigError(
            f"csv: {table} has no rows of 2 or 3 columns (widths seen: {sorted(widths)}); {FIX}"
        )
    return rows


def _class_ids(names: list[str]) -> np.ndarray:
    """Integer labels as they are; class names as their index in the sorted names."""
    try:
        return np.array([int(n) for n in names], dtype=np.int64)
    except ValueError:
        ids = {name: i for i, name in enumerate(sorted(set(names)))}
        return np.array([ids[n] for n in names], dtype=np.int64)


def read_csv(
    root: str | None, image_root: str | None = None, train_class_fraction: float = 0.5
) -> dict[str, Split]:
    """Read the dataset listed in the CSV file ``root``.

    Args:
        root: the CSV file (``data.root``).
        image_root: the folder that relative paths start from (default: the CSV file's folder).
        train_class_fraction: without a split column, the fraction of classes (sorted) that train.

    Returns:
        ``{"train", "test"}`` (or ``{"train", "query", "gallery"}``); items are absolute paths.
    """
    if root is None:
        raise ConfigError(
            "csv: data.root is not set; point it at a CSV file of path,label[,split] rows: "
            "python train.py data=csv data.root=/path/to/table.csv"
        )
    table = Path(root).expanduser().resolve()
    if not table.is_file():
        raise ConfigError(f"csv: data.root={root} is not a file; {FIX}")
    rows = _rows(table)
    base = Path(image_root).expanduser().resolve() if image_root else table.parent
    paths = [str(base / r[0]) for r in rows]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ConfigError(
            f"csv: {len(missing)} of the {len(paths)} images listed in {table} do not exist "
            f"(first: {missing[0]}); fix the paths or set image_root to the folder they are "
            "relative to"
        )
    split = Split(items=paths, labels=_class_ids([r[1] for r in rows]))
    if len(rows[0]) == 2:
        if not 0.0 < train_class_fraction < 1.0 or len(split.classes) < 2:
            raise ConfigError(
                f"csv: cannot split {len(split.classes)} classes with "
                f"train_class_fraction={train_class_fraction}; use a fraction in (0, 1) and at "
                "least 2 classes, or add a split column"
            )
        num_train = min(
            len(split.classes) - 1, max(1, round(len(split.classes) * train_class_fraction))
        )
        return report("csv", split_by_classes(split, split.classes[:num_train]))
    where = np.array([r[2].lower() for r in rows])
    present = set(where.tolist())
    if (
        not present <= set(SPLITS)
        or "train" not in present
        or not ({"test"} <= present or {"query", "gallery"} <= present)
    ):
        raise ConfigError(
            f"csv: the split column of {table} has {sorted(present)}; it needs train and test "
            "(or train, query and gallery), and no other value"
        )
    keys = [k for k in SPLITS if k in present]
    return report("csv", {k: split.subset(np.flatnonzero(where == k)) for k in keys})
