"""Serve an export over HTTP: ``python scripts/serve.py index=RUN_DIR/export [key=value ...]``.

A Hydra app whose primary config is ``configs/serve.yaml`` (``host``, ``port``, ``k``,
``max_batch_size``, ``batch_timeout``, ``workers``, limits). Routes: ``GET /`` (a page),
``GET /health``, ``POST /search``, ``POST /embed``, ``GET|POST /items``,
``DELETE /items/{id}``, ``GET /items/{id}/image``, ``POST /reload``; see docs/serving.md and
:mod:`metriclab.service`. A mistake prints one ``error:`` line and exits with status 2.
"""

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from metriclab.commands import app

CONFIG = "serve"  # configs/serve.yaml


def run(cfg: DictConfig) -> None:
    """Serve with the composed settings (:func:`metriclab.service.checked` checks them)."""
    from metriclab.service import serve

    serve(OmegaConf.to_container(cfg, resolve=True))


@hydra.main(version_base="1.3", config_path="../configs", config_name=CONFIG)
def main(cfg: DictConfig) -> None:
    sys.exit(app.run_config(cfg, run))


if __name__ == "__main__":
    sys.argv[1:] = app.check_command_line(CONFIG, sys.argv[1:])
    main()
