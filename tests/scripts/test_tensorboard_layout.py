"""TensorBoard laid out for reading: sweep runs named by their overrides, HPARAMS rows that hold
the swept parameters only (integers as integers), no ``epoch`` card, a custom-scalars layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import compose_config
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict, read_write
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from metriclab.pipeline.hparams import hparams_summaries, run_hparams, swept_keys
from metriclab.pipeline.tb_logger import RunTensorBoardLogger, job_name, tensorboard_tag


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


def as_sweep_job(tmp_path: Path, sweep: list[str], job: list[str]) -> None:
    """Make Hydra's config look like job ``job`` of ``python train.py -m *sweep``."""
    cfg = compose_config(job, tmp_path / "0")
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = RunMode.MULTIRUN
        with read_write(cfg.hydra.sweep):
            cfg.hydra.sweep.dir = str(tmp_path)
    (tmp_path / "multirun.yaml").write_text(
        OmegaConf.to_yaml({"hydra": {"overrides": {"task": sweep}}})
    )
    HydraConfig().set_config(cfg)


def test_job_name_keeps_what_trains_and_drops_where_it_runs() -> None:
    overrides = ["loss=circle", "hydra.run.dir=/x", "paths.log_dir=/y", "+miner.margin=0.2"]
    overrides += ["trainer.devices=2", "optimizer.lr=0.001", "data.root=/a b"]
    assert job_name(overrides) == "loss=circle,miner.margin=0.2,optimizer.lr=0.001,data.root=_a_b"
    assert job_name(["hydra.job.num=1"]) == ""
    assert len(job_name([f"k{i}=v" for i in range(100)])) == 120


def test_a_sweep_row_holds_the_swept_parameters_only(tmp_path: Path) -> None:
    sweep = ["loss=contrastive,triplet", "data.batch_size=48", "optimizer.lr=0.001"]
    as_sweep_job(tmp_path, sweep, ["loss=triplet", "data.batch_size=48", "optimizer.lr=0.001"])
    assert swept_keys() == ["loss"]
    assert run_hparams({"seed": 42, "data.batch_size": 48}) == {"loss": "triplet"}


def test_an_optuna_search_space_is_swept(tmp_path: Path) -> None:
    as_sweep_job(tmp_path, ["hparams_search=optuna"], ["hparams_search=optuna", "loss.m=0.25"])
    keys = swept_keys()
    assert "loss.m" in keys and "optimizer.lr" in keys
    row = run_hparams()
    assert row["loss.m"] == 0.25 and list(row)[0] == keys[0]


def test_a_single_run_shows_its_main_choices_and_integers_as_integers(tmp_path: Path) -> None:
    HydraConfig().set_config(compose_config(["loss=triplet", "trainer.max_epochs=3"], tmp_path))
    assert swept_keys() == []
    row = run_hparams({"data.batch_size": 48, "optimizer.lr": 3e-4, "seed": 42})
    assert {"data", "backbone", "loss", "miner"} <= set(row) and row["loss"] == "triplet"
    assert "callbacks" not in row and "head" not in row and "hydra" not in row
    assert row["trainer.max_epochs"] == "3" and row["data.batch_size"] == "48"
    assert row["optimizer.lr"] == 3e-4 and row["seed"] == "42"


def test_every_parameter_is_marked_differing_so_tensorboard_lists_it_first() -> None:
    experiment, start, _ = hparams_summaries({"loss": "circle", "optimizer.lr": 0.1}, {"x": 1.0})
    parse = plugin_data_pb2.HParamsPluginData.FromString
    infos = parse(experiment.value[0].metadata.plugin_data.content).experiment.hparam_infos
    assert [(i.name, i.differs) for i in infos] == [("loss", True), ("optimizer.lr", True)]
    session = parse(start.value[0].metadata.plugin_data.content).session_start_info
    assert session.hparams["loss"].string_value == "circle"


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


def test_hparams_lists_the_best_value_and_map_at_r_first() -> None:
    metrics = {"test/recall@1": 0.5, "test/nmi": 0.1, "test/map@r": 0.2, "val/best_map@r": 0.3}
    experiment, _, _ = hparams_summaries({"loss": "circle"}, metrics)
    parse = plugin_data_pb2.HParamsPluginData.FromString
    infos = parse(experiment.value[0].metadata.plugin_data.content).experiment.metric_infos
    names = [i.name.tag for i in infos]
    assert names == ["val/best_map@r", "test/map@r", "test/recall@1", "test/nmi"]
