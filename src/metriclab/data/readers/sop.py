"""Stanford Online Products (Oh Song et al., 2016): 120,053 eBay photos of 22,634 products.

Official zero-shot split: ``Ebay_train.txt`` (59,551 images, classes 1-11,318) and
``Ebay_test.txt`` (60,502 images, classes 11,319-22,634). Each file has the header
``image_id class_id super_class_id path`` and one space-separated line per image, e.g.
``1 1 1 bicycle_final/111085122871_0.JPG`` (paths relative to the dataset folder).
"""

from __future__ import annotations

import numpy as np

from metriclab.data.base import Split
from metriclab.data.readers._common import find_root, keep_existing, parse_error, read_lines, report

EXPECTED = (
    "Ebay_train.txt, Ebay_test.txt and the *_final/ image folders (Stanford_Online_Products.zip)"
)


def read_sop(root: str) -> dict[str, Split]:
    """Read Stanford Online Products from ``root`` (``Stanford_Online_Products`` or its parent).

    Returns:
        ``{"train": Ebay_train.txt, "test": Ebay_test.txt}``; items are absolute paths, labels the
        original ``class_id`` (1-based, disjoint between the splits).
    """
    base = find_root(
        "sop", root, ["Ebay_train.txt", "Ebay_test.txt"], EXPECTED, ["Stanford_Online_Products"]
    )
    splits = {}
    for key in ("train", "test"):
        table = base / f"Ebay_{key}.txt"
        try:
            rows = read_lines("sop", table, skip=1, maxsplit=3)
            labels = np.array([int(r[1]) for r in rows], dtype=np.int64)
            paths = [str(base / r[3]) for r in rows]
        except (ValueError, IndexError) as exc:
            raise parse_error("sop", table, exc) from None
        keep = keep_existing("sop", paths, str(table), base.parent)
        splits[key] = Split(items=paths, labels=labels).subset(keep)
    return report("sop", splits, "sop")
