"""The same seed gives the same metrics on CPU; the run directory records how to repeat it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from metriclab.callbacks.seeding import seed_all
from metriclab.pipeline import train

RUN = ["trainer.max_epochs=2", "logger=csv"]


def saved_metrics(run_dir) -> dict[str, float]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.pop("train_time_s")
    return metrics


@pytest.mark.slow
def test_two_runs_with_the_same_seed_give_identical_metrics(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["train.py", *RUN, "seed=7"])
    runs = {}
    for name, seed in (("first", 7), ("second", 7), ("other", 8)):
        _, objects = train(make_cfg(*RUN, f"seed={seed}"))
        runs[name] = (tmp_path / "run").rename(tmp_path / name), objects["evaluator"].history
    first, second, other = (saved_metrics(runs[k][0]) for k in ("first", "second", "other"))
    assert first == second  # exactly, every key
    assert runs["first"][1] == runs["second"][1]  # and every epoch's validation metrics
    assert other != first  # the seed does decide the result

    info = json.loads((runs["first"][0] / "run_info.json").read_text())
    assert info["seed"] == 7 and info["resumes"] == []
    assert "seed=7" in info["command"] and "seed=7" in info["overrides"]
    for library in ("python", "torch", "torchvision", "pytorch-lightning", "hydra-core", "numpy"):
        assert info["versions"][library], library
    assert info["versions"]["faiss"] and info["versions"]["metriclab"]
    assert torch.__version__.startswith(info["versions"]["torch"].split("+")[0])


def test_epoch_seeds_depend_on_seed_epoch_and_rank_only():
    def draw(seed, epoch, rank):
        seed_all(seed, epoch, rank)
        return torch.rand(3).tolist(), float(np.random.rand())

    torch.rand(5)  # whatever happened before does not matter
    assert draw(1, 2, 0) == draw(1, 2, 0)
    assert (
        len({str(draw(1, 2, 0)), str(draw(1, 3, 0)), str(draw(2, 2, 0)), str(draw(1, 2, 1))}) == 4
    )
