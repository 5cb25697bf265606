"""Values that would train a junk model, refused before training: a pair-based loss on
``sampler.m=1`` batches (no positive pair: loss 0 every step), an out-of-range loss
hyper-parameter, a cross-batch memory smaller than a batch. Unit level for every loss config,
and through ``python train.py`` (exit 2, one ``error:`` line, no run folder left)."""

from __future__ import annotations

import pytest
from config_build import build
from config_helpers import CONFIGS, TINY, compose_config, one_error_line, run_train
from hydra.core.global_hydra import GlobalHydra

from metriclab.build import build_loss
from metriclab.errors import ConfigError

LOSSES = sorted(p.stem for p in (CONFIGS / "loss").glob("*.yaml"))
#: Losses that compare items of the batch with each other (``joint_ce`` wraps multisim and
#: ``matryoshka`` circle by default); the others compare each item with class proxies or with a
#: memory of past batches (``xbm``), which one item per class trains.
PAIR_BASED = {"circle", "contrastive", "joint_ce", "matryoshka", "multisim", "npair", "triplet"}


@pytest.mark.parametrize("loss", LOSSES)
def test_one_item_per_class_is_refused_for_pair_based_losses_only(loss):
    if loss in PAIR_BASED:
        with pytest.raises(ConfigError, match=r"^sampler.m=1: .* no positive pair"):
            build("loss", [f"loss={loss}"], m=1)
        build("loss", [f"loss={loss}"], m=2)
    else:
        assert build("loss", [f"loss={loss}"], m=1) is not None


def test_random_batches_and_evaluation_only_pass_with_a_pair_loss():
    cfg = compose_config([*TINY, "loss=circle", "sampler=random"])  # the real composition
    GlobalHydra.instance().clear()
    assert "m" not in cfg.sampler and build_loss(cfg, 5, 16) is not None  # not m-per-class
    assert build("loss", ["loss=circle"], m=1, train=False) is not None  # trains nothing
    assert build("loss", ["loss=joint_ce", "loss@loss.metric=normsoftmax"], m=1) is not None


def test_memory_smaller_than_a_batch_is_refused():
    with pytest.raises(ConfigError, match=r"^loss.memory_size=8 is smaller than a batch"):
        build("loss", ["loss=xbm", "loss.memory_size=8"], batch_size=16)


def assert_refused_leaving_nothing(result, work, *parts: str) -> str:
    error = one_error_line(result)
    assert result.stderr.strip().splitlines()[-1] == error
    for part in parts:
        assert part in error, error
    assert not [p for p in work.rglob("*") if p.is_file()], "a refused run left files"
    return error


@pytest.mark.slow
def test_negative_circle_scale_is_refused_by_train_py(tmp_path):
    result = run_train(*TINY, "loss=circle", "loss.gamma=-1", cwd=tmp_path)
    error = assert_refused_leaving_nothing(result, tmp_path, "set loss.gamma=80")
    assert error.startswith("error: loss.gamma=-1: the Circle loss scale γ must be > 0")


@pytest.mark.slow
def test_one_item_per_class_with_a_pair_loss_is_refused_by_train_py(tmp_path):
    result = run_train(*TINY, "loss=circle", "data.batch_size=3", "sampler.m=1", cwd=tmp_path)
    assert_refused_leaving_nothing(result, tmp_path, "sampler.m=1", "no positive pair", "m=2")
