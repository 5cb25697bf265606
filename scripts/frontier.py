"""Every operating point of a trained model: ``python scripts/frontier.py ckpt_path=PATH``.

A Hydra app whose primary config is ``configs/frontier.yaml`` (``--help`` lists its settings:
``dims=[64,128,512]`` (prefixes; default: the Matryoshka loss's, else the full size),
``device``, ``threads``, ``out``, ``progress``, ``tensorboard``). Any other ``key=value`` must be
a setting of ``train.py``: it overrides the run's saved config (``data.root=DIR``). Writes
``RUN_DIR/frontier/frontier.{md,csv,json,png}``; see :mod:`metriclab.commands.frontier`. A
mistake prints one ``error:`` line and exits with status 2.
"""

import sys

import hydra
from omegaconf import DictConfig

from metriclab.commands import app

CONFIG = "frontier"  # configs/frontier.yaml


@hydra.main(version_base="1.3", config_path="../configs", config_name=CONFIG)
def main(cfg: DictConfig) -> None:
    from metriclab.commands.frontier import run  # the heavy imports: after the checks

    sys.exit(app.run_config(cfg, run))


if __name__ == "__main__":
    sys.argv[1:] = app.check_command_line(CONFIG, sys.argv[1:])
    main()
