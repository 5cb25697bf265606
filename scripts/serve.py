"""Serve an export over HTTP: ``python scripts/serve.py index=RUN_DIR/export [key=value ...]``.

A Hydra app whose primary config is ``configs/serve.yaml`` (``host``, ``port``, ``k``,
``max_batch_size``, ``batch_timeout``, ``workers``, limits). Routes: ``GET /`` (a page),
``GET /health``, ``POST /search``, ``POST /embed``, ``GET|POST /items``,
``DELETE /items/{id}``, ``GET /items/{id}/image``, ``POST /reload``; see docs/serving.md and
:mod:`metriclab.serving.service`. A mistake prints one ``error:`` line and exits with status 2.
"""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from metriclab.console import quiet_third_party
from metriclab.errors import ConfigError
from metriclab.serving.service import check_command_line, serve

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@hydra.main(version_base="1.3", config_path="../configs", config_name="serve")
def main(cfg: DictConfig) -> None:
    quiet_third_party()
    options = OmegaConf.to_container(cfg, resolve=True)
    try:
        serve(options)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    keys = [
        str(k) for k in OmegaConf.load(CONFIGS / "serve.yaml") if k not in ("hydra", "defaults")
    ]
    check_command_line(sys.argv[1:], keys)
    main()
