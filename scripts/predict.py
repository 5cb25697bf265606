"""Classify images with an exported index: ``python scripts/predict.py index=DIR query=PATH``.

A Hydra app whose primary config is ``configs/predict.yaml`` (``--help`` lists its settings).
Each query gets a class and a confidence, or ``unknown`` when the confidence is below the
threshold calibrated at export (``scripts/export.py calibrate=DIR``; ``threshold=none`` or a
number overrides it). Writes ``predictions.csv``, ``predictions.json`` and a PNG per query into
``out`` (default ``INDEX_DIR/predictions``). A mistake prints one ``error:`` line and exits with
status 2; see :mod:`metriclab.commands.predict`.
"""

import sys

import hydra
from omegaconf import DictConfig

from metriclab.commands import app

CONFIG = "predict"


@hydra.main(version_base="1.3", config_path="../configs", config_name=CONFIG)
def main(cfg: DictConfig) -> None:
    from metriclab.commands.predict import run  # torch: imported once the command line is checked

    sys.exit(app.run_config(cfg, run))


if __name__ == "__main__":
    sys.argv[1:] = app.check_command_line(CONFIG, sys.argv[1:])
    main()
