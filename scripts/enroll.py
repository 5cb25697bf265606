"""Add or remove a class in an exported index, without retraining.

``python scripts/enroll.py index=DIR add=FOLDER [name=CLASS]``: embed a folder of a class's
images (or a folder of class sub-folders) and append them; ``remove=CLASS`` drops a class. A
Hydra app whose primary config is ``configs/enroll.yaml`` (``--help`` lists its settings:
``model=torchscript|onnx``, ``batch_size``, ``progress``). See :mod:`metriclab.commands.enroll`.
A mistake prints one ``error:`` line and exits with status 2.
"""

import sys

import hydra
from omegaconf import DictConfig

from metriclab.commands import app

CONFIG = "enroll"  # configs/enroll.yaml


@hydra.main(version_base="1.3", config_path="../configs", config_name=CONFIG)
def main(cfg: DictConfig) -> None:
    from metriclab.commands.enroll import run  # the heavy imports: after the checks

    sys.exit(app.run_config(cfg, run))


if __name__ == "__main__":
    sys.argv[1:] = app.check_command_line(CONFIG, sys.argv[1:])
    main()
