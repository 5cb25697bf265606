"""Train an embedding model: ``python train.py [group=option ...] [key=value ...]``."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from metriclab.commands.train import check_command_line, explain_import_failures, run

CONFIGS = Path(__file__).resolve().parent / "configs"


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run(cfg)


if __name__ == "__main__":
    sys.argv[1:] = check_command_line(sys.argv[1:], CONFIGS)  # one line for an unknown key
    explain_import_failures()  # "Error locating target" names its root cause
    main()
