"""HParams: a sweep row holds the swept parameters only (integers as integers), a single run its
main choices; the best validation value and MAP@R come first."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import as_sweep_job, compose_config
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from tensorboard.plugins.hparams import plugin_data_pb2

from metriclab.callbacks.hparams import hparams_summaries, run_hparams, swept_keys


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


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


def test_hparams_lists_the_best_value_and_map_at_r_first() -> None:
    metrics = {"test/recall@1": 0.5, "test/nmi": 0.1, "test/map@r": 0.2, "val/best_map@r": 0.3}
    experiment, _, _ = hparams_summaries({"loss": "circle"}, metrics)
    parse = plugin_data_pb2.HParamsPluginData.FromString
    infos = parse(experiment.value[0].metadata.plugin_data.content).experiment.metric_infos
    names = [i.name.tag for i in infos]
    assert names == ["val/best_map@r", "test/map@r", "test/recall@1", "test/nmi"]
