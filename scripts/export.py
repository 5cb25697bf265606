"""Export a checkpoint for search: ``python scripts/export.py ckpt_path=PATH [key=value ...]``.

A Hydra app whose primary config is ``configs/export.yaml`` (``--help`` lists its settings with
their defaults). Writes the embedder as TorchScript (``embedder.pt``) and ONNX
(``embedder.onnx``), both checked against the checkpoint (max |diff| <= ``atol``, 1e-4), and a
FAISS index of a gallery (``index.faiss`` + ``index.json`` with each image's path and label) into
``RUN_DIR/export/`` (or ``out=DIR``). ``gallery=test|val|train|DIR``: a split of the run's data or
a folder of images. Any ``key=value`` of ``train.py`` (``data.root=DIR`` when the data moved)
overrides the run's saved config. ``calibrate=DIR [target_precision=0.95 | target_fmr=1e-3]
[classifier=knn|centroid]`` also stores the open-set threshold of ``scripts/predict.py`` in
``index.json`` (docs/classification.md). A mistake prints one ``error:`` line and exits with
status 2; see :mod:`metriclab.commands.export`.
"""

import sys

import hydra
from omegaconf import DictConfig

from metriclab.commands import app

CONFIG = "export"


@hydra.main(version_base="1.3", config_path="../configs", config_name=CONFIG)
def main(cfg: DictConfig) -> None:
    from metriclab.commands.export import run  # torch: imported once the command line is checked

    sys.exit(app.run_config(cfg, run))


if __name__ == "__main__":
    sys.argv[1:] = app.check_command_line(CONFIG, sys.argv[1:])
    main()
