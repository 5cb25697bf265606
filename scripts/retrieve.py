"""Search a saved index: ``python scripts/retrieve.py index=DIR query=PATH [k=5] [out=DIR]``.

A Hydra app whose primary config is ``configs/retrieve.yaml`` (``--help`` lists its settings).
``query`` is an image or a folder of images. Prints each query's top-``k`` gallery images with
their cosine similarity, label and path, and writes a PNG per query (the query beside its
neighbours: green frame = same label, red = another, grey = unknown) and an ``index.html`` page
into ``out`` (default ``INDEX_DIR/retrieval``). A mistake prints one ``error:`` line and exits
with status 2; see :mod:`metriclab.commands.retrieve`.
"""

import sys

import hydra
from omegaconf import DictConfig

from metriclab.commands import app

CONFIG = "retrieve"


@hydra.main(version_base="1.3", config_path="../configs", config_name=CONFIG)
def main(cfg: DictConfig) -> None:
    from metriclab.commands.retrieve import run  # torch: imported once the command line is checked

    sys.exit(app.run_config(cfg, run))


if __name__ == "__main__":
    sys.argv[1:] = app.check_command_line(CONFIG, sys.argv[1:])
    main()
