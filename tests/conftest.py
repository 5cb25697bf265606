"""Shared fixtures: the real training config, composed with Hydra and shrunk for tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from config_helpers import TINY, compose_config
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """``make_cfg(*overrides, tiny=True)``: a composed config writing into ``tmp_path/run``."""

    def make(*overrides: str, tiny: bool = True) -> DictConfig:
        return compose_config([*(TINY if tiny else []), *overrides], tmp_path / "run")

    yield make
    GlobalHydra.instance().clear()


ROOT = Path(__file__).resolve().parents[1]
#: One tiny digits run shared by the eval / export / retrieve / dashboard tests: 2 epochs of 3
#: batches, the TensorBoard logger, the default callbacks with the dashboards.
RUN_OVERRIDES = [
    "data=digits",
    "optimized_metric=val/recall@1",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
    "backbone.width=8",
    "head.embedding_size=16",
    "logger=tensorboard",
    "callbacks.dashboards.projector_items=100",
]


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of a finished tiny digits run (checkpoints, tensorboard, metrics)."""
    from metriclab.pipeline import train

    run_dir = tmp_path_factory.mktemp("digits") / "run"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=RUN_OVERRIDES, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(run_dir)
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig().set_config(cfg)
    train(cfg)
    saved = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    with open_dict(saved):
        saved.paths.output_dir = "${hydra:runtime.output_dir}"  # what Hydra itself saves
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(saved, run_dir / ".hydra" / "config.yaml")
    GlobalHydra.instance().clear()
    return run_dir
