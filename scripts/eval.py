"""Evaluate a trained checkpoint: ``python scripts/eval.py ckpt_path=PATH [key=value ...]``.

A Hydra app whose primary config is ``configs/eval.yaml`` (``--help`` lists its settings:
``split``, ``save_embeddings``, ``nmi``, ``device``, ``batch_size``, ``num_workers``, ``out``,
``progress``, ``openset`` ...). Any other ``key=value`` must be a setting of ``train.py``: it
overrides the run's saved config (``data=cub data.root=DIR``). Writes
``RUN_DIR/eval/<checkpoint>-<data>-<split>/metrics.json``; ``openset=true`` adds closed-set
accuracy, open-set AUROC, the calibrated threshold, TAR@FAR and ``precision_coverage.png``
(docs/classification.md). See :mod:`metriclab.commands.evaluate`. A mistake prints one
``error:`` line and exits with status 2.
"""

import sys

import hydra
from omegaconf import DictConfig

from metriclab.commands import app

CONFIG = "eval"  # configs/eval.yaml


@hydra.main(version_base="1.3", config_path="../configs", config_name=CONFIG)
def main(cfg: DictConfig) -> None:
    from metriclab.commands.evaluate import run  # the heavy imports: after the checks

    sys.exit(app.run_config(cfg, run))


if __name__ == "__main__":
    sys.argv[1:] = app.check_command_line(CONFIG, sys.argv[1:])
    main()
