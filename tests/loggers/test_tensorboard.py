"""``logger=tensorboard``: sweep runs named by their overrides, tags grouped by stage, no
``epoch`` card, a custom-scalars layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import as_sweep_job, compose_config
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from metriclab.loggers.tensorboard import RunTensorBoardLogger, job_name, tensorboard_tag


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


def test_job_name_keeps_what_trains_and_drops_where_it_runs() -> None:
    overrides = ["loss=circle", "hydra.run.dir=/x", "paths.log_dir=/y", "+miner.margin=0.2"]
    overrides += ["trainer.devices=2", "optimizer.lr=0.001", "data.root=/a b"]
    assert job_name(overrides) == "loss=circle,miner.margin=0.2,optimizer.lr=0.001,data.root=_a_b"
    assert job_name(["hydra.job.num=1"]) == ""
    assert len(job_name([f"k{i}=v" for i in range(100)])) == 120


def test_a_sweep_job_logs_under_its_overrides_without_an_epoch_card(tmp_path: Path) -> None:
    as_sweep_job(tmp_path, ["loss=contrastive,triplet"], ["loss=triplet"])
    logger = RunTensorBoardLogger(str(tmp_path / "0"))
    assert Path(logger.log_dir) == tmp_path / "0" / "tensorboard" / "loss=triplet"
    logger.log_metrics({"val/map@r": 0.5, "epoch": 0, "lr-Adam/head": 0.1}, step=3)
    logger.log_metrics({"best/val/map@r": 0.5}, step=3)
    logger.experiment.flush()
    acc = EventAccumulator(logger.log_dir).Reload()
    assert sorted(acc.Tags()["scalars"]) == ["train/lr-Adam/head", "val/best_map@r", "val/map@r"]
    assert acc.PluginTagToContent("custom_scalars")  # the train / val / test layout
    HydraConfig().set_config(compose_config(["loss=triplet"], tmp_path / "single"))
    single = RunTensorBoardLogger(str(tmp_path / "single"))
    assert Path(single.log_dir) == tmp_path / "single" / "tensorboard"


def test_tags_are_grouped_by_stage() -> None:
    assert tensorboard_tag("lr-Adam/backbone") == "train/lr-Adam/backbone"
    assert tensorboard_tag("best/val/map@r") == "val/best_map@r"
    assert tensorboard_tag("test/recall@1") == "test/recall@1"
    assert tensorboard_tag("best/x") == "best/x"
