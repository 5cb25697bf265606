"""Train an embedding model: ``python train.py [group=option ...] [key=value ...]``."""

import hydra
from omegaconf import DictConfig

from metriclab.pipeline.cli import run


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run(cfg)


if __name__ == "__main__":
    main()
