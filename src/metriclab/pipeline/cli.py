"""The command-line wrapper around :func:`~metriclab.pipeline.training.train`.

A user mistake (:class:`~metriclab.errors.ConfigError`) is printed as one line
``error: <what was wrong, the value seen, the fix>`` on stderr and the process exits with
status 2; no ``metrics.json`` is written. Lightning's start-up chatter is kept to warnings.

Exit statuses: 0 done; 2 a user mistake (config, data, checkpoint, run directory, an unknown
``group=option``, checked by :func:`check_command_line` before Hydra composes anything);
3 a NaN/Inf training loss (``on_nonfinite_loss=stop``); 143 SIGTERM (``last.ckpt`` saved).
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from pathlib import Path

from omegaconf import DictConfig

from metriclab.errors import ConfigError

QUIET_LOGGERS = ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning")
EXIT_CONFIG, EXIT_NONFINITE, EXIT_SIGTERM = 2, 3, 143
GROUP_OVERRIDE = re.compile(r"^[+~]{0,2}(?P<group>[\w/]+)(?:@[\w.]+)?=(?P<value>[\w.,-]*)$")


def unknown_group_option(argv: list[str], config_dir: Path) -> str | None:
    """The error line for the first ``group=option`` (or sweep ``group=a,b``) naming no
    ``configs/<group>/<option>.yaml``, listing the available options; ``None`` if all exist."""
    for arg in argv:
        match = GROUP_OVERRIDE.match(arg)
        group_dir = config_dir / match["group"] if match else None
        if group_dir is None or not group_dir.is_dir() or match["group"].startswith("hydra"):
            continue  # hydra/<group> options also come from Hydra's plugins
        for option in match["value"].split(","):
            if option in ("", "null") or (group_dir / f"{option}.yaml").is_file():
                continue
            available = sorted(p.stem for p in group_dir.glob("*.yaml"))
            return (
                f"{match['group']}={option}: no such option in {group_dir}; available: "
                f"{', '.join(available) or '(none)'}"
            )
    return None


def check_command_line(argv: list[str], config_dir: str | Path) -> None:
    """Exit with one ``error:`` line (status 2) on an unknown config group option, before Hydra
    prints its multi-line report."""
    message = unknown_group_option(argv, Path(config_dir))
    if message:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


def quiet_lightning() -> None:
    """Keep Lightning's informational messages (GPU available, tips...) off the console."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


def run(cfg: DictConfig) -> float | None:
    """Run ``train(cfg)``; return the optimized metric (for Hydra sweepers such as Optuna)."""
    from metriclab.pipeline.faults import NonFiniteLossError
    from metriclab.pipeline.signals import Preempted
    from metriclab.pipeline.sweeps import run_recorded
    from metriclab.pipeline.training import train

    quiet_lightning()
    try:
        metrics, _ = run_recorded(train, cfg)  # status.json; a failed sweep job returns None
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    except NonFiniteLossError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_NONFINITE)
    except Preempted as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_SIGTERM)
    metric = cfg.get("optimized_metric")
    return metrics.get(metric) if metric else None
