"""In-Shop Clothes Retrieval (DeepFashion, Liu et al., 2016): 52,712 photos of 7,982 items.

Official protocol: train on 25,882 images of 3,997 items; evaluate by retrieving each of the 14,218
query images among the 12,612 gallery images (3,985 items, disjoint from the training items).
``Eval/list_eval_partition.txt`` starts with the image count and the header
``image_name item_id evaluation_status``, then one line per image, e.g.
``img/WOMEN/Dresses/id_00000002/02_1_front.jpg  id_00000002  train``; image paths are relative
to the folder that holds ``img/`` (the dataset folder, or its ``Img/`` once ``Img/img.zip`` is
unzipped there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from metriclab.data.base import Split
from metriclab.data.readers._common import (
    keep_existing,
    layout_error,
    parse_error,
    read_lines,
    report,
)

EXPECTED = (
    "Eval/list_eval_partition.txt (or list_eval_partition.txt) and img/ (or Img/img/, from "
    "Img/img.zip)"
)
SUBDIRS = ("", "In-shop Clothes Retrieval Benchmark", "inshop", "InShop")
STATUSES = ("train", "query", "gallery")


def _locate(root: str) -> tuple[Path, Path, Path]:
    """``(dataset folder, partition file, folder holding img/)``."""
    if root is None:
        raise layout_error("inshop", root, EXPECTED)
    for sub in SUBDIRS:
        base = (Path(root).expanduser() / sub).resolve()
        tables = [
            p
            for p in (base / "Eval" / "list_eval_partition.txt", base / "list_eval_partition.txt")
            if p.is_file()
        ]
        images = [d for d in (base, base / "Img") if (d / "img").is_dir()]
        if tables and images:
            return base, tables[0], images[0]
    raise layout_error("inshop", root, EXPECTED)


def read_inshop(root: str) -> dict[str, Split]:
    """Read In-Shop Clothes Retrieval from ``root`` (the benchmark folder).

    Returns:
        ``{"train", "query", "gallery"}``; items are absolute paths, labels the item ids
        (``id_00000002`` -> 2). Evaluation retrieves each query among the gallery.
    """
    base, table, image_root = _locate(root)
    try:
        rows = read_lines("inshop", table, skip=2)
        paths = [str(image_root / r[0]) for r in rows]
        labels = np.array([int(r[1].rsplit("_", 1)[-1]) for r in rows], dtype=np.int64)
        status = np.array([r[2] for r in rows])
        unknown = sorted(set(status) - set(STATUSES))
        if unknown:
            raise ValueError(
                f"evaluation_status {unknown[0]!r} is not one of {', '.join(STATUSES)}"
            )
    except (ValueError, IndexError) as exc:
        raise parse_error("inshop", table, exc) from None
    keep = keep_existing("inshop", paths, str(table), base)
    split = Split(items=paths, labels=labels).subset(keep)
    status = status[keep]
    splits = {key: split.subset(np.flatnonzero(status == key)) for key in STATUSES}
    return report("inshop", splits, "inshop")
