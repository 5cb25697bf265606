"""The dataset every split becomes: ``(image [C, H, W], label, index)`` items.

Each item carries its own index, so embeddings gathered from several processes are put back in
dataset order (and padding duplicates dropped) by index.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from metriclab.data.base import Split
from metriclab.data.images import load_image


def remap_labels(*label_sets: np.ndarray) -> list[np.ndarray]:
    """Labels of one or more splits remapped together to ``0..C-1`` (sorted original ids)."""
    classes = np.unique(np.concatenate(label_sets)) if label_sets else np.empty(0)
    return [np.searchsorted(classes, labels).astype(np.int64) for labels in label_sets]


class MetricDataset(Dataset):
    """One split: decoded (and optionally cropped) images through ``transform``.

    Args:
        split: items (paths or a ``uint8`` array ``[N, H, W(, C)]``), labels and optional boxes.
        labels: ``int64 [N]`` labels remapped to ``0..C-1`` (what the model sees).
        transform: PIL image -> tensor.
        channels: 1 decodes to grayscale (``"L"``), 3 to ``"RGB"``.
    """

    def __init__(
        self,
        split: Split,
        labels: np.ndarray,
        transform: Callable[[Image.Image], torch.Tensor],
        channels: int = 3,
    ) -> None:
        if len(labels) != len(split):
            raise ValueError(f"{len(labels)} labels for a split of {len(split)} items")
        self.split = split
        self.labels = np.asarray(labels, dtype=np.int64)
        self.transform = transform
        self.mode = "L" if channels == 1 else "RGB"

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return int(len(np.unique(self.labels)))

    def image(self, index: int) -> Image.Image:
        """The decoded image of item ``index`` in this dataset's mode."""
        item = self.split.items[index]
        if isinstance(item, np.ndarray):
            return Image.fromarray(item).convert(self.mode)
        bbox = None if self.split.bboxes is None else self.split.bboxes[index]
        return load_image(item, bbox=bbox, mode=self.mode)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return self.transform(self.image(index)), int(self.labels[index]), int(index)
