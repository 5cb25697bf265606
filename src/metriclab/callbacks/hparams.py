"""The run's hyper-parameters and final metrics in TensorBoard's HParams view.

``tensorboard --logdir outputs/multirun/DATE/TIME`` then shows one row per sweep job in the
HPARAMS tab. What a row holds:

- in a sweep, the **swept** parameters only (``loss`` of ``-m loss=a,b``, every key of an Optuna
  search space), marked as differing so TensorBoard puts them first; what every job shares is
  left out (it would be a constant column);
- in a single run, the main choices (``data``, ``backbone``, ``loss``, ``miner``), every
  command-line override (``optimizer.lr=0.001``...) and the fixed knobs given as ``params``;
- integers are written as text (``48``, not ``48.000``), other numbers as numbers;
- the metrics ``test/<metric>`` (the best checkpoint's test results) and the best validation
  value (``best/<monitor>``, tagged ``val/best_map@r`` by
  :class:`~metriclab.loggers.tensorboard.RunTensorBoardLogger`), the best one and MAP@R first.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from pytorch_lightning.loggers import TensorBoardLogger

from metriclab.loggers.tensorboard import SKIPPED_PREFIXES, RunTensorBoardLogger, tensorboard_tag

log = logging.getLogger("metriclab")

HParam = int | float | str | bool

#: Metrics listed first in the HPARAMS table (after the best validation value): the ones that
#: do not saturate; TensorBoard ticks only the first few.
FIRST_METRICS = ("test/map@r", "test/recall@1", "test/r_precision")

#: Group choices a single run always shows (the others only when overridden).
MAIN_GROUPS = ("data", "backbone", "loss", "miner")


def _typed(value: Any) -> HParam:
    """A value TensorBoard's HParams accepts: floats, bools and text as they are; integers as
    text (TensorBoard prints every number with three decimals: ``48.000``); the rest as text."""
    if isinstance(value, bool | float | str):
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


def sweep_command_line() -> list[str]:
    """The overrides the sweep was started with (``multirun.yaml`` in the sweep directory, which
    Hydra writes before the first job; else this process's ``sys.argv``)."""
    from omegaconf import OmegaConf

    if HydraConfig.initialized():
        saved = Path(HydraConfig.get().sweep.dir) / "multirun.yaml"
        if saved.is_file():
            task = OmegaConf.select(OmegaConf.load(saved), "hydra.overrides.task", default=None)
            if task is not None:
                return [str(t) for t in task]
    return [a for a in sys.argv[1:] if not a.startswith("-")]


def swept_keys() -> list[str]:
    """The keys a Hydra multirun varies: ``a=x,y`` / ``range()`` / ``choice()`` on its command
    line and the keys of ``hydra.sweeper.params`` (Optuna's search space). ``[]`` outside one."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return []
    keys: list[str] = []
    parser = OverridesParser.create()
    for text in sweep_command_line():
        try:
            override = parser.parse_overrides([text])[0]
        except Exception:  # noqa: BLE001 - not an override (e.g. a flag)
            continue
        if override.is_sweep_override():
            keys.append(override.get_key_element().lstrip("+"))
    params = HydraConfig.get().sweeper.get("params") or {}
    keys += [str(k) for k in params]
    return list(dict.fromkeys(k for k in keys if not k.startswith(SKIPPED_PREFIXES)))


def run_hparams(params: Mapping[str, Any] | None = None) -> dict[str, HParam]:
    """What one HPARAMS row shows (see the module docstring), swept parameters first.

    In a sweep: the swept keys with this job's values. Otherwise: the main group choices, the
    command-line overrides, then ``params``.
    """
    choices: dict[str, HParam] = {}
    overrides: dict[str, HParam] = {}
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        for group, choice in hydra_cfg.runtime.choices.items():
            if choice is not None and not f"{group}/".startswith(SKIPPED_PREFIXES + ("paths/",)):
                choices[str(group)] = str(choice)
        for text in hydra_cfg.overrides.task:
            parsed = parse_override(str(text))
            if parsed is not None:
                overrides[parsed[0]] = parsed[1]
    swept = swept_keys()
    if swept:
        known = {**choices, **overrides}
        return {k: known[k] for k in swept if k in known}
    found = {k: v for k, v in choices.items() if k in MAIN_GROUPS}
    found.update(overrides)
    for key, value in (params or {}).items():
        found.setdefault(str(key), _typed(value))
    return found


def hparams_summaries(params: Mapping[str, HParam], metrics: Mapping[str, float]) -> list:
    """TensorBoard's three HParams summaries (experiment, session start, session end).

    The experiment lists every parameter as *differing* in the sweep (every job writes the same
    list and TensorBoard keeps one of them): its HPARAMS table puts differing ones first.
    """
    from tensorboard.plugins.hparams import plugin_data_pb2
    from torch.utils.tensorboard.summary import hparams

    first = [k for k in metrics if "best" in k] + [k for k in FIRST_METRICS if k in metrics]
    ordered = {k: metrics[k] for k in [*dict.fromkeys(first), *metrics]}  # shown by default
    experiment, start, end = hparams(dict(params), ordered)
    value = experiment.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    for info in data.experiment.hparam_infos:
        info.differs = True
    value.metadata.plugin_data.content = data.SerializeToString()
    return [experiment, start, end]


class HParamsLogger(pl.Callback):
    """At the end of testing, writes :func:`run_hparams` and the final metrics to every
    TensorBoard logger of the trainer (rank 0). Does nothing without a TensorBoard logger.

    Args:
        params: extra hyper-parameters shown for every run (``{"optimizer.lr": 3e-4, ...}``).
        monitor: the validation metric whose best value is logged as ``best/<monitor>``.
    """

    def __init__(
        self, params: Mapping[str, Any] | None = None, monitor: str | None = "val/map@r"
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
            shown = metrics
            if isinstance(logger, RunTensorBoardLogger):  # its tags: val/best_map@r
                shown = {tensorboard_tag(k): v for k, v in metrics.items()}
            for summary in hparams_summaries(params, shown):
                writer.add_summary(summary)
            logger.experiment.flush()
        self.written = params
