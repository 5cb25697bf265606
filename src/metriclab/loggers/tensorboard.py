"""TensorBoard logging laid out for reading: runs named by their overrides, no ``epoch`` card.

:class:`RunTensorBoardLogger` is Lightning's :class:`TensorBoardLogger` with three changes:

- in a sweep (``python train.py -m ...``) each job's events go to ``<job dir>/tensorboard/<name>``
  where ``<name>`` is the job's own overrides (``loss=circle,miner=none``), so TensorBoard's run
  list and HPARAMS table say ``0/tensorboard/loss=circle,...`` instead of ``0/tensorboard``;
  a single run keeps ``<run dir>/tensorboard`` (its directory already names it);
- the ``epoch`` value Lightning adds to every logged dict is dropped (a staircase card that comes
  first in the scalars tab and says nothing the step axis does not); the CSV logger keeps it;
- tags are grouped by stage (:func:`tensorboard_tag`): the learning rates ``lr-Adam/head`` go to
  ``train/lr-Adam/head`` and the best validation value ``best/val/map@r`` to
  ``val/best_map@r``, so TensorBoard's time series opens on ``test``, ``train`` and ``val``
  groups (its order is alphabetical) instead of one-point ``best`` and ``lr`` cards;
- a custom-scalars layout (``train``, ``val``, ``test`` charts, in that order) is written once,
  so the CUSTOM SCALARS tab opens on the curves a person looks at first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only

#: Overrides that say where a run goes, not how it trains.
SKIPPED_PREFIXES = ("hydra.", "paths.", "hydra/", "ckpt_path")

#: Overrides a sweep job's name leaves out (where it runs, not what it trains).
NAME_SKIPPED = (*SKIPPED_PREFIXES, "trainer.devices", "trainer.accelerator")


def job_name(overrides: list[str], max_length: int = 120) -> str:
    """``["loss=circle", "optimizer.lr=0.001"] -> "loss=circle,optimizer.lr=0.001"``.

    Characters a directory name should not hold become ``_``; longer names are cut at
    ``max_length``. Empty when nothing is left.
    """
    kept = [o.lstrip("+~") for o in overrides if not o.lstrip("+~").startswith(NAME_SKIPPED)]
    name = re.sub(r"[^\w=.,@:+-]", "_", ",".join(kept))
    return name[:max_length]


def tensorboard_tag(key: str) -> str:
    """The TensorBoard tag of a logged key: ``lr-*`` under ``train/``, ``best/<stage>/<name>``
    as ``<stage>/best_<name>``; every other key as it is."""
    if key.startswith("lr-"):
        return f"train/{key}"
    stage, _, name = key.removeprefix("best/").partition("/")
    return f"{stage}/best_{name}" if key.startswith("best/") and name else key


def sweep_job_overrides() -> list[str] | None:
    """This job's own overrides when it runs inside a Hydra multirun, else ``None``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return [str(o) for o in hydra_cfg.overrides.task]


#: The CUSTOM SCALARS layout: category -> chart title -> tags (regular expressions).
LAYOUT: dict[str, dict[str, list[str]]] = {
    "train": {"loss": [r"train/loss_epoch", r"train/loss_step"], "learning rate": [r"train/lr-.*"]},
    "val": {
        "recall@k": [r"val/recall@\d+"],
        "map@r and r_precision": [r"val/map@r", r"val/r_precision"],
    },
    "test": {
        "recall@k": [r"test/recall@\d+"],
        "map@r, r_precision and nmi": [r"test/(map@r|r_precision|nmi)"],
    },
}


class RunTensorBoardLogger(TensorBoardLogger):
    """Lightning's TensorBoard logger, named by the sweep job's overrides, without ``epoch``.

    Args:
        save_dir, name, default_hp_metric, **kwargs: as :class:`TensorBoardLogger`.
        version: ``"auto"``: a sweep job's overrides (see :func:`job_name`), ``""`` for a single
            run; any other value is used as given.
    """

    def __init__(
        self,
        save_dir: str,
        name: str = "tensorboard",
        version: str | int | None = "auto",
        default_hp_metric: bool = False,
        **kwargs: Any,
    ) -> None:
        if version == "auto":
            overrides = sweep_job_overrides()
            version = job_name(overrides) if overrides else ""
        super().__init__(
            save_dir, name=name, version=version, default_hp_metric=default_hp_metric, **kwargs
        )
        self._layout_written = False

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """As TensorBoardLogger's, minus the ``epoch`` entry Lightning adds, tags grouped by
        stage (:func:`tensorboard_tag`)."""
        if not self._layout_written:
            self._write_layout()
        tagged = {tensorboard_tag(k): v for k, v in metrics.items() if k != "epoch"}
        super().log_metrics(tagged, step)

    def _write_layout(self) -> None:
        from torch.utils.tensorboard.summary import custom_scalars

        layout = {
            category: {title: ["Multiline", tags] for title, tags in charts.items()}
            for category, charts in LAYOUT.items()
        }
        self.experiment._get_file_writer().add_summary(custom_scalars(layout))
        self._layout_written = True
