"""What every reader shares: the published split sizes, root checks, errors and the count report.

Each reader logs one line per call (logger ``metriclab.data``), e.g.
``cub: train 5864 images / 100 classes, test 5924 images / 100 classes``, and a warning when an
official dataset's counts differ from the published ones in :data:`PUBLISHED` (a partial download).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from metriclab.data.base import Split
from metriclab.errors import ConfigError

log = logging.getLogger("metriclab.data")

#: Published ``(images, classes)`` per split of each official protocol, keyed by reader name
#: (``name/protocol`` for a non-default protocol).
PUBLISHED: dict[str, dict[str, tuple[int, int]]] = {
    "cub": {"train": (5864, 100), "test": (5924, 100)},
    "cars": {"train": (8054, 98), "test": (8131, 98)},
    "sop": {"train": (59551, 11318), "test": (60502, 11316)},
    "inshop": {"train": (25882, 3997), "query": (14218, 3985), "gallery": (12612, 3985)},
    "omniglot": {"train": (19280, 964), "test": (13180, 659)},
    "cifar10": {"train": (30000, 5), "test": (30000, 5)},
    "cifar10/seen_classes": {"train": (50000, 10), "test": (10000, 10)},
    "cifar100": {"train": (30000, 50), "test": (30000, 50)},
    "cifar100/seen_classes": {"train": (50000, 100), "test": (10000, 100)},
}


def prepare_command(name: str, root: str | os.PathLike) -> str:
    """The command that downloads and extracts dataset ``name`` under ``root``."""
    return f"python scripts/prepare_data.py {name} --root {root}"


def layout_error(name: str, root: str | os.PathLike, expected: str, fix: str = "") -> ConfigError:
    """The one-line error for a missing or wrong ``data.root`` of dataset ``name``."""
    if root is None:
        return ConfigError(
            f"{name}: data.root is not set: expected the folder holding {expected}; "
            f"run `{prepare_command(name, 'data/' + name)}` or set data.root=DIR"
        )
    fix = (
        fix
        or f"run `{prepare_command(name, root)}`, or set data.root to the folder that holds them"
    )
    return ConfigError(
        f"{name}: data.root={root} does not hold the dataset: expected {expected}; {fix}"
    )


def find_root(
    name: str,
    root: str | os.PathLike,
    markers: Sequence[str],
    expected: str,
    subdirs: Sequence[str],
) -> Path:
    """The folder holding all ``markers``: ``root`` itself or one of its ``subdirs``.

    Users point ``data.root`` either at the dataset folder or at the folder they extracted the
    archive into; both work.
    """
    if root is None:
        raise layout_error(name, root, expected)
    base = Path(root).expanduser()
    for candidate in [base, *(base / s for s in subdirs)]:
        if all((candidate / m).exists() for m in markers):
            return candidate.resolve()
    raise layout_error(name, root, expected)


def read_lines(name: str, path: Path, skip: int = 0, maxsplit: int = -1) -> list[list[str]]:
    """Whitespace-separated fields of each non-empty line of ``path`` after ``skip`` lines."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[skip:]
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
    return [line.split(None, maxsplit) for line in lines if line.strip()]


def parse_error(name: str, path: Path, exc: Exception) -> ConfigError:
    """The one-line error for an annotation file that is not in the official format."""
    return ConfigError(
        f"{name}: {path} is not in the official format ({type(exc).__name__}: {exc}); "
        "re-extract the dataset's archive"
    )


def keep_existing(name: str, paths: list[str], source: str, root: str | os.PathLike) -> np.ndarray:
    """Indices of ``paths`` whose file exists; warns (count, first missing) about the others.

    Raises a :class:`ConfigError` when none exists (the images were not extracted under ``root``).
    """
    exists = np.fromiter((os.path.isfile(p) for p in paths), dtype=bool, count=len(paths))
    if len(paths) and not exists.any():
        raise ConfigError(
            f"{name}: none of the {len(paths)} images listed in {source} exists "
            f"(first: {paths[0]}); extract the image archive there, "
            f"e.g. `{prepare_command(name, root)}`"
        )
    missing = np.flatnonzero(~exists)
    if len(missing):
        log.warning(
            "%s: %d of %d images listed in %s are missing and were left out (first: %s)",
            name,
            len(missing),
            len(paths),
            source,
            paths[missing[0]],
        )
    return np.flatnonzero(exists)


def split_by_classes(split: Split, train_classes: np.ndarray) -> dict[str, Split]:
    """``{"train": items of train_classes, "test": the other items}``."""
    is_train = np.isin(split.labels, train_classes)
    return {
        "train": split.subset(np.flatnonzero(is_train)),
        "test": split.subset(np.flatnonzero(~is_train)),
    }


def report(name: str, splits: dict[str, Split], published: str | None = None) -> dict[str, Split]:
    """Log images and classes per split; warn when they differ from ``PUBLISHED[published]``."""
    sizes = {key: (len(s), len(s.classes)) for key, s in splits.items()}
    log.info(
        "%s: %s", name, ", ".join(f"{k} {n} images / {c} classes" for k, (n, c) in sizes.items())
    )
    expected = PUBLISHED.get(published or "", {})
    diff = [
        f"{k} {sizes[k][0]} / {sizes[k][1]} instead of {n} / {c}"
        for k, (n, c) in expected.items()
        if sizes.get(k) != (n, c)
    ]
    if diff:
        log.warning(
            "%s: images / classes differ from the published split (%s): a partial download or "
            "extraction? Re-run scripts/prepare_data.py %s",
            name,
            ", ".join(diff),
            name,
        )
    for key, split in splits.items():
        if len(split) == 0:
            raise ConfigError(
                f"{name}: the {key} split is empty; check data.root and the reader options"
            )
    return splits
