"""The command-line wrapper around :func:`~metriclab.pipeline.training.train`.

A user mistake (:class:`~metriclab.errors.ConfigError`) is printed as one line
``error: <what was wrong, the value seen, the fix>`` on stderr and the process exits with
status 2; no ``metrics.json`` is written. Lightning's start-up chatter is kept to warnings.
"""

from __future__ import annotations

import logging
import sys
import warnings

from omegaconf import DictConfig

from metriclab.errors import ConfigError

QUIET_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning")


def quiet_lightning() -> None:
    """Keep Lightning's informational messages (GPU available, tips...) off the console."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


def run(cfg: DictConfig) -> float | None:
    """Run ``train(cfg)``; return the optimized metric (for Hydra sweepers such as Optuna)."""
    from metriclab.pipeline.training import train

    quiet_lightning()
    try:
        metrics, _ = train(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None
