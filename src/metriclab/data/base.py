"""The record every dataset reader returns: one split of a dataset as items and labels.

A reader turns an official on-disk layout into ``dict[str, Split]`` (keys ``"train"`` and
``"test"``; In-Shop adds ``"query"`` and ``"gallery"``). The datamodule slices validation classes
off ``"train"``, remaps labels to ``0..C-1`` per split and wraps each split in a
:class:`~metriclab.data.dataset.MetricDataset`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from metriclab.errors import ConfigError


@dataclass
class Split:
    """``N`` items of one split with their class labels.

    Attributes:
        items: ``N`` image file paths (``str``), or a ``uint8`` array ``[N, H, W]`` /
            ``[N, H, W, C]`` of decoded images (in-memory datasets such as digits or CIFAR).
        labels: ``int64 [N]`` original class ids (not yet remapped).
        bboxes: optional ``float [N, 4]`` crop boxes ``(x, y, width, height)`` in pixels.
    """

    items: Sequence | np.ndarray
    labels: np.ndarray
    bboxes: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.items) != len(self.labels):
            raise ValueError(f"{len(self.items)} items but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def classes(self) -> np.ndarray:
        """Sorted unique class ids of this split."""
        return np.unique(self.labels)

    def subset(self, indices: np.ndarray) -> Split:
        """The split restricted to ``indices`` (in that order)."""
        indices = np.asarray(indices, dtype=np.int64)
        if isinstance(self.items, np.ndarray):
            items = self.items[indices]
        else:
            items = [self.items[i] for i in indices]
        bboxes = None if self.bboxes is None else self.bboxes[indices]
        return Split(items=items, labels=self.labels[indices], bboxes=bboxes)

    def with_classes(self, classes: Sequence[int] | np.ndarray) -> Split:
        """The split restricted to the items whose label is in ``classes``."""
        keep = np.flatnonzero(np.isin(self.labels, np.asarray(classes)))
        return self.subset(keep)


def split_validation(train: Split, val_classes: float) -> tuple[Split, Split | None]:
    """``(train, val)``: the last ``val_classes`` (a count, or a fraction) sorted training classes
    become the validation split; ``val_classes=0`` gives ``val=None``."""
    classes = train.classes
    count = int(val_classes) if val_classes >= 1 else round(len(classes) * float(val_classes))
    if val_classes and count < 2:
        count = 2  # retrieval among fewer than 2 classes measures nothing
    if count == 0:
        return train, None
    if count > len(classes) - 1:
        raise ConfigError(
            f"data.val_classes={val_classes} leaves no training class ({len(classes)} classes "
            "in the training split); lower it, set data.val_classes=0, or data.val_on_test=true"
        )
    return train.with_classes(classes[:-count]), train.with_classes(classes[-count:])
