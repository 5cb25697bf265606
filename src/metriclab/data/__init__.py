"""Data: readers of the official layouts, datasets, transforms, batch samplers, the datamodule.

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
