"""Data: readers of the official layouts, datasets, transforms, batch samplers, the datamodule.

One name end to end: ``data=<name>`` is ``configs/data/<name>.yaml``; its ``reader._target_`` is
``read_<name>`` in ``src/metriclab/data/readers/<name>.py``, tested in ``tests/data/test_<name>.py``
on a fixture in the official layout (``cifar10`` and ``cifar100`` share ``cifar.py``). A new
dataset is one reader there (returning ``{"train", "test"[, "val"]}`` :class:`Split` objects, with
one-line errors for a wrong root), one config and one test. ``sampler=<name>`` builds a sampler of
``samplers.py`` (tested in ``tests/data/test_samplers.py``).

The names below are imported on first use (PEP 562), so ``scripts/prepare_data.py`` and the
readers do not pay for importing torch and Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Split": "metriclab.data.base",
    "MetricDataModule": "metriclab.data.datamodule",
    "MetricDataset": "metriclab.data.dataset",
    "MPerClassSampler": "metriclab.data.samplers",
    "RandomBatchSampler": "metriclab.data.samplers",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'metriclab.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    return __all__
