"""The run's hyper-parameters and final metrics in TensorBoard's HParams view.

``tensorboard --logdir outputs/multirun/DATE/TIME`` then shows one row per sweep job in the
HPARAMS tab: its config-group choices (``loss=circle``, ``miner=none``...), every command-line
override (``optimizer.lr=0.001``...), the fixed knobs given as ``params``, and the metrics
``test/<metric>`` (the best checkpoint's test results) and ``best/<monitor>`` (the best
validation value, e.g. ``best/val/recall@1``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from pytorch_lightning.loggers import TensorBoardLogger

log = logging.getLogger("metriclab")

HParam = int | float | str | bool

#: Overrides that say where a run goes, not how it trains.
SKIPPED_PREFIXES = ("hydra.", "paths.", "hydra/", "ckpt_path")


def _typed(value: Any) -> HParam:
    """A value TensorBoard's HParams accepts (numbers stay numbers, the rest becomes text)."""
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def parse_override(text: str) -> tuple[str, HParam] | None:
    """``"optimizer.lr=1e-3" -> ("optimizer.lr", 0.001)``; ``"+a.b=2" -> ("a.b", 2)``.

    Deletions (``~key``) and keys in :data:`SKIPPED_PREFIXES` give ``None``.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        override = OverridesParser.create().parse_overrides([text])[0]
    except Exception:  # noqa: BLE001 - an unparsable string is shown as text
        key, _, value = text.lstrip("+").partition("=")
        return (key, value) if value and not key.startswith(SKIPPED_PREFIXES) else None
    key = override.get_key_element().lstrip("+")
    if override.is_delete() or key.startswith(SKIPPED_PREFIXES):
        return None
    return key, _typed(override.value())


def run_hparams(params: Mapping[str, Any] | None = None) -> dict[str, HParam]:
    """Group choices + command-line overrides of this Hydra run + ``params`` (in that order)."""
    found: dict[str, HParam] = {}
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        for group, choice in hydra_cfg.runtime.choices.items():
            if choice is not None and not f"{group}/".startswith(SKIPPED_PREFIXES + ("paths/",)):
                found[str(group)] = str(choice)
        for text in hydra_cfg.overrides.task:
            parsed = parse_override(str(text))
            if parsed is not None:
                found[parsed[0]] = parsed[1]
    for key, value in (params or {}).items():
        found.setdefault(str(key), _typed(value))
    return found


class HParamsLogger(pl.Callback):
    """At the end of testing, writes :func:`run_hparams` and the final metrics to every
    TensorBoard logger of the trainer (rank 0). Does nothing without a TensorBoard logger.

    Args:
        params: extra hyper-parameters shown for every run (``{"optimizer.lr": 3e-4, ...}``).
        monitor: the validation metric whose best value is logged as ``best/<monitor>``.
    """

    def __init__(
        self, params: Mapping[str, Any] | None = None, monitor: str | None = "val/recall@1"
    ) -> None:
        self.params = dict(params or {})
        self.monitor = monitor
        self.written: dict[str, HParam] | None = None  # what was logged (for tests)

    def final_metrics(self, trainer: pl.Trainer) -> dict[str, float]:
        """``test/*`` from the trainer's logged metrics plus ``best/<monitor>``."""
        metrics = {
            k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")
        }
        checkpoint = trainer.checkpoint_callback
        score = getattr(checkpoint, "best_model_score", None)
        if self.monitor and score is not None and getattr(checkpoint, "monitor", None):
            metrics[f"best/{self.monitor}"] = float(score)
        return metrics

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not loggers or not trainer.is_global_zero:
            return
        from torch.utils.tensorboard.summary import hparams

        params = run_hparams(self.params)
        metrics = self.final_metrics(trainer)
        if not metrics:
            log.debug("HParamsLogger: no test metric to show")
            return
        new = {k: v for k, v in metrics.items() if k.startswith("best/")}
        for logger in loggers:
            if new:
                logger.log_metrics(new, step=trainer.global_step)
            writer = logger.experiment._get_file_writer()
            for summary in hparams(params, metrics):
                writer.add_summary(summary)
            logger.experiment.flush()
        self.written = params
