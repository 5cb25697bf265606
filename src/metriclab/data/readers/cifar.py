"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) from the official python pickles.

``cifar-10-batches-py/data_batch_1..5`` + ``test_batch`` and ``cifar-100-python/train`` + ``test``
are pickled dicts: ``b"data"`` ``uint8 [N, 3072]`` (the red, green, then blue 32x32 plane of each
image), ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100), ``b"filenames"``.

Protocols (``protocol=``):

- ``"class_disjoint"`` (default, zero-shot like CUB): all 60,000 images, the first half of the
  classes (CIFAR-10 0-4, CIFAR-100 0-49) train, the other half test: 30,000 / 30,000 images;
- ``"seen_classes"``: the official train split (50,000) then the official test split (10,000), the
  same classes in both.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from metriclab.data.base import Split
from metriclab.data.readers._common import find_root, parse_error, report, split_by_classes
from metriclab.errors import ConfigError

PROTOCOLS = ("class_disjoint", "seen_classes")


def _load_batch(name: str, path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``uint8 [N, 32, 32, 3]`` and labels ``int64 [N]`` of one official pickle."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError, AttributeError) as exc:
        raise parse_error(name, path, exc) from None
    return data.transpose(0, 2, 3, 1), labels


def _read(
    name: str,
    root: str,
    folder: str,
    train: list[str],
    label_key: str,
    num_classes: int,
    protocol: str,
) -> dict[str, Split]:
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"{name}: unknown protocol={protocol!r}; use one of {', '.join(PROTOCOLS)}"
        )
    expected = f"{folder}/ with {', '.join(train)} and test{'_batch' if name == 'cifar10' else ''}"
    test = ["test_batch" if name == "cifar10" else "test"]
    base = find_root(name, root, [*train, *test], expected, [folder])
    parts = {
        key: [_load_batch(name, base / f, label_key) for f in files]
        for key, files in (("train", train), ("test", test))
    }
    splits = {
        key: Split(
            items=np.concatenate([d for d, _ in p]), labels=np.concatenate([y for _, y in p])
        )
        for key, p in parts.items()
    }
    if protocol == "seen_classes":
        return report(name, splits, f"{name}/seen_classes")
    pooled = Split(
        items=np.concatenate([splits["train"].items, splits["test"].items]),
        labels=np.concatenate([splits["train"].labels, splits["test"].labels]),
    )
    return report(name, split_by_classes(pooled, np.arange(num_classes // 2)), name)


def read_cifar10(root: str, protocol: str = "class_disjoint") -> dict[str, Split]:
    """Read CIFAR-10 from ``root`` (``cifar-10-batches-py`` or the folder holding it).

    Args:
        root: ``data.root``.
        protocol: ``"class_disjoint"`` (classes 0-4 train, 5-9 test, all images) or
            ``"seen_classes"`` (official train split, then official test split).

    Returns:
        ``{"train", "test"}`` with items ``uint8 [N, 32, 32, 3]`` and labels 0..9.
    """
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    return _read("cifar10", root, "cifar-10-batches-py", batches, "labels", 10, protocol)


def read_cifar100(root: str, protocol: str = "class_disjoint") -> dict[str, Split]:
    """Read CIFAR-100 (fine labels) from ``root`` (``cifar-100-python`` or the folder holding it).

    Args:
        root: ``data.root``.
        protocol: ``"class_disjoint"`` (classes 0-49 train, 50-99 test, all images) or
            ``"seen_classes"`` (official train split, then official test split).

    Returns:
        ``{"train", "test"}`` with items ``uint8 [N, 32, 32, 3]`` and labels 0..99.
    """
    return _read("cifar100", root, "cifar-100-python", ["train"], "fine_labels", 100, protocol)
