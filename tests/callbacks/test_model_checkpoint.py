"""``callbacks.model_checkpoint``: the best validation metric, the later epoch on a tie."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from metriclab.callbacks.model_checkpoint import BestCheckpoint


def tied(save_on_tie: bool, tmp_path) -> bool:
    """Whether the callback would replace a best checkpoint of 0.9 by a new 0.9."""
    checkpoint = BestCheckpoint(
        dirpath=tmp_path, monitor="val/map@r", mode="max", save_top_k=1, save_on_tie=save_on_tie
    )
    trainer = pl.Trainer(accelerator="cpu", logger=False, callbacks=[checkpoint])
    checkpoint.best_k_models = {str(tmp_path / "best.ckpt"): torch.tensor(0.9)}
    checkpoint.kth_best_model_path = str(tmp_path / "best.ckpt")
    return checkpoint.check_monitor_top_k(trainer, torch.tensor(0.9))


def test_a_tie_keeps_the_later_epoch(tmp_path) -> None:
    assert tied(True, tmp_path)
    assert not tied(False, tmp_path)  # Lightning's strict rule


def test_the_run_config_builds_it_with_the_tie_rule(make_cfg, tmp_path) -> None:
    cfg = make_cfg()
    checkpoint = instantiate(cfg.callbacks.model_checkpoint)
    assert isinstance(checkpoint, BestCheckpoint) and checkpoint.save_on_tie
    assert checkpoint.monitor == cfg.optimized_metric and checkpoint.save_last


def test_fast_dev_run_writes_no_checkpoint(make_cfg, tmp_path) -> None:
    from metriclab.pipeline import train

    train(make_cfg("trainer.fast_dev_run=true"))
    assert not list((tmp_path / "run").rglob("*.ckpt"))
