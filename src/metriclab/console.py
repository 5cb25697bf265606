"""What every metriclab command keeps off the console (``train.py`` and the ``scripts/``)."""

from __future__ import annotations

import logging
import warnings

#: Third-party loggers whose informational lines (GPU available, tips, the optional FAISS builds
#: tried) say nothing a user acts on; their warnings still show.
QUIET_LOGGERS = (
    "pytorch_lightning",
    "lightning.pytorch",
    "lightning_fabric",
    "lightning",
    "faiss.loader",
)


def quiet_third_party() -> None:
    """Set :data:`QUIET_LOGGERS` to WARNING and drop two warnings that do not apply here."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
