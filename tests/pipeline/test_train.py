"""``train(cfg)`` end to end on digits: every loss x miner connects, a real run writes its files."""

from __future__ import annotations

import json
import math

import pytest
import torch
from eval_reference import reference_metrics
from omegaconf import OmegaConf

from metriclab.data import MPerClassSampler, RandomBatchSampler
from metriclab.errors import ConfigError
from metriclab.pipeline import train

PAIR_LOSSES = ["contrastive", "triplet", "npair", "multisim", "circle", "joint_ce"]
PROXY_LOSSES = ["proxy_nca", "proxy_anchor", "arcface", "cosface", "normsoftmax", "xbm"]
MINERS = ["none", "batch_hard", "semihard", "multisim", "pair_margin", "distance_weighted"]
METRICS_KEYS = {
    "test/recall@1",
    "test/recall@2",
    "test/recall@4",
    "test/recall@8",
    "test/precision@1",
    "test/r_precision",
    "test/map@r",
    "test/nmi",
    "best_epoch",
    "train_time_s",
}


def assert_learns(objects: dict, steps: int = 20) -> None:
    """The run's module (its real loss, miner and optimizer groups) fits one training batch of
    the run's own loader: the loss on it falls by a tenth in ``steps`` optimizer steps."""
    module, datamodule = objects["module"], objects["datamodule"]
    images, labels, _ = next(iter(datamodule.train_dataloader()))
    optimizer = module.optimizer_factory(module.param_groups())
    module.train()
    torch.manual_seed(0)

    def batch_loss():
        embeddings = module(images)
        return module.loss(embeddings, labels, module.mine(embeddings, labels, None))

    first = float(batch_loss().detach())
    for _ in range(steps):
        optimizer.zero_grad()
        batch_loss().backward()
        optimizer.step()
    last = float(batch_loss().detach())
    assert math.isfinite(last) and last < 0.9 * first, (first, last)


@pytest.mark.parametrize("miner", MINERS)
@pytest.mark.parametrize("loss", PAIR_LOSSES)
def test_fast_dev_run_pair_loss_with_miner(make_cfg, loss, miner):
    metrics, objects = train(make_cfg(f"loss={loss}", f"miner={miner}", "debug=fdr"))
    assert 0.0 <= metrics["test/recall@1"] <= 1.0
    assert (objects["module"].miner is None) == (miner == "none")
    assert_learns(objects)


@pytest.mark.parametrize("loss", PROXY_LOSSES)
def test_fast_dev_run_proxy_loss(make_cfg, loss):
    metrics, objects = train(make_cfg(f"loss={loss}", "debug=fdr"))
    assert 0.0 <= metrics["test/recall@1"] <= 1.0
    assert_learns(objects)
    loss_params = [g for g in objects["module"].param_groups() if g["name"] == "loss"]
    if loss != "xbm":  # proxies / class weights get their own group at lr * lr_multiplier
        lr = objects["cfg"].optimizer.lr
        assert loss_params and loss_params[0]["lr"] == pytest.approx(
            lr * objects["module"].loss.lr_multiplier
        )
        assert objects["module"].loss.num_classes == objects["datamodule"].num_classes


def test_proxy_loss_refuses_a_miner(make_cfg):
    with pytest.raises(ConfigError, match="takes no miner.*miner=none"):
        train(make_cfg("loss=proxy_anchor", "miner=batch_hard", "debug=fdr"))


def test_real_run_writes_the_run_directory(make_cfg, tmp_path):
    cfg = make_cfg("trainer.max_epochs=2", "logger=many")
    metrics, objects = train(cfg)
    run = tmp_path / "run"
    saved = json.loads((run / "metrics.json").read_text())
    assert set(saved) == METRICS_KEYS
    assert all(0.0 <= saved[k] <= 1.0 for k in METRICS_KEYS if k.startswith("test/"))
    assert saved["test/precision@1"] == saved["test/recall@1"]
    assert saved["best_epoch"] in (0, 1)
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    logged = (run / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    for key in ("train/loss_epoch", "val/recall@1", "val/map@r", "test/recall@1", "test/nmi"):
        assert key in logged
    assert any(k.startswith("lr-Adam") for k in logged)
    history = objects["evaluator"].history
    assert [epoch for epoch, _ in history] == [0, 1]
    best_score = max(m["val/recall@1"] for _, m in history)
    assert metrics["val/recall@1"] == pytest.approx(best_score)


def test_test_metrics_come_from_the_best_checkpoint(make_cfg, tmp_path):
    import torch

    from metriclab.metrics import retrieval_metrics

    _, objects = train(make_cfg("trainer.max_epochs=2"))
    best = objects["best_ckpt"]
    state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
    module, datamodule = objects["module"], objects["datamodule"]
    module.load_state_dict(state)
    module.eval()
    test = datamodule.datasets["test"]
    with torch.no_grad():
        emb = torch.cat([module(x) for x, _, _ in datamodule.eval_dataloader("test")])
    expected = retrieval_metrics(emb, test.labels)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test/recall@1"] == pytest.approx(expected["recall@1"], abs=1e-6)
    assert saved["test/map@r"] == pytest.approx(expected["map@r"], abs=1e-6)


def test_no_validation_split_keeps_the_last_epoch(make_cfg, tmp_path):
    metrics, objects = train(make_cfg("data.val_classes=0", "trainer.max_epochs=2"))
    assert "val" not in objects["datamodule"].datasets
    assert metrics["best_epoch"] == 1
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()


def test_val_on_test_validates_on_the_test_classes(make_cfg):
    _, objects = train(make_cfg("data.val_on_test=true", "debug=fdr"))
    datamodule = objects["datamodule"]
    assert set(datamodule.datasets["val"].split.labels) == set(range(5, 10))
    assert set(datamodule.datasets["train"].split.labels) == set(range(5))


def test_sampler_config_errors_surface_before_training(make_cfg):
    with pytest.raises(ConfigError, match="not a multiple of sampler.m=16"):
        train(make_cfg("data.batch_size=50"))
    with pytest.raises(ConfigError, match="needs 4 classes but the training split has 3"):
        train(make_cfg("data.batch_size=64"))


def test_random_sampler_and_scheduler_options(make_cfg):
    """The chosen sampler, optimizer and scheduler are the ones the real Trainer runs with."""
    cases = (
        (["sampler=random", "scheduler=step"], RandomBatchSampler, torch.optim.Adam, True),
        (["scheduler=none", "optimizer=sgd"], MPerClassSampler, torch.optim.SGD, False),
    )
    for overrides, sampler_type, optimizer_type, scheduled in cases:
        metrics, objects = train(make_cfg(*overrides, "debug=fdr"))
        emb, labels, _ = objects["evaluator"].gathered[0]  # the trained model's test embeddings
        want = reference_metrics(emb, labels)["recall@1"]  # recounted query by query
        assert metrics["test/recall@1"] == pytest.approx(want, abs=1e-9), overrides
        batches = objects["datamodule"].train_dataloader().batch_sampler
        assert type(batches) is sampler_type, overrides
        (optimizer,) = objects["trainer"].optimizers
        assert type(optimizer) is optimizer_type, overrides
        assert bool(objects["trainer"].lr_scheduler_configs) is scheduled, overrides


def test_config_is_plain_yaml_after_resolution(make_cfg):
    cfg = make_cfg()
    resolved = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("sampler", "backbone")}
    assert resolved["sampler"]["m"] == 16  # the dataset's default m
    assert resolved["backbone"]["in_channels"] == 1
