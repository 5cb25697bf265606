"""The training loop: ``train(cfg)`` (:mod:`.training`), the final table (:mod:`.summary`), and
the run record and sweeps around it (:mod:`.sweeps`). The command line is
:mod:`metriclab.commands.train`; the LightningModule is :mod:`metriclab.module.lightning` (the
``MetricLearningModule`` name here is an alias of it).

Names are imported on first use, so ``train.py`` can reject a config mistake before Lightning
and torch are loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MetricLearningModule": "metriclab.module.lightning",
    "train": "metriclab.pipeline.training",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'metriclab.pipeline' has no attribute {name!r}")
