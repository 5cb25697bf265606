"""Every YAML of every config group composes into the training config and instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metriclab import build

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def resolve(cfg) -> dict:
    """Every interpolation of the run's config (Hydra's own node aside) resolves."""
    kept = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    return OmegaConf.to_container(kept, resolve=True)


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


def test_every_group_of_the_spec_exists():
    for group in [
        "data",
        "backbone",
        "loss",
        "miner",
        "sampler",
        "trainer",
        "logger",
        "experiment",
        "debug",
        "paths",
        "hydra",
        "head",
        "optimizer",
        "scheduler",
        "callbacks",
        "hparams_search",
    ]:
        assert (CONFIGS / group).is_dir(), group
    for group, names in {
        "loss": [
            "contrastive",
            "triplet",
            "npair",
            "multisim",
            "circle",
            "proxy_nca",
            "proxy_anchor",
            "arcface",
            "cosface",
            "normsoftmax",
        ],
        "miner": ["none", "batch_hard", "semihard", "multisim", "pair_margin"],
        "sampler": ["m_per_class", "random"],
        "trainer": ["default", "cpu", "gpu", "ddp"],
        "logger": ["tensorboard", "csv"],
        "backbone": ["small_cnn", "resnet18", "resnet50", "vit_b_16"],
    }.items():
        assert set(names) <= set(options(group)), group


@pytest.mark.parametrize(
    ("group", "option"),
    [
        (g, o)
        for g in ["sampler", "optimizer", "scheduler", "trainer", "logger", "callbacks", "debug"]
        for o in options(g)
    ],
)
def test_group_option_composes_and_builds(make_cfg, group, option):
    cfg = make_cfg(f"{group}={option}")
    resolve(cfg)
    node = cfg.get(group)
    if group == "sampler":
        sampler = instantiate(node)(labels=list(range(6)) * 16, batch_size=48, seed=0)
        assert len(list(sampler)) == len(sampler)
    elif group == "optimizer":
        module = torch.nn.Linear(2, 2)
        spec = OmegaConf.to_container(node, resolve=True)
        opt = instantiate(spec)([{"params": module.parameters(), "lr": 0.1}])
        assert isinstance(opt, torch.optim.Optimizer)
        if build.is_enabled(cfg.scheduler):
            sched = instantiate(cfg.scheduler)(opt, total_steps=10, steps_per_epoch=2)
            assert sched.get_last_lr()[0] > 0
    elif group == "scheduler" and build.is_enabled(node):
        opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
        sched = instantiate(node)(opt, total_steps=10, steps_per_epoch=2)
        for _ in range(10):
            opt.step()
            sched.step()
        assert 0 < sched.get_last_lr()[0] <= 0.1
    elif group == "trainer" and option in ("default", "cpu"):
        trainer = instantiate(node, logger=False, enable_checkpointing=False)
        assert trainer.max_epochs == cfg.trainer.max_epochs
    elif group == "logger":
        for name, sub in node.items():
            logger = instantiate(sub)
            assert type(logger).__name__ == str(sub._target_).rsplit(".", 1)[1], name
            assert Path(logger.log_dir).is_relative_to(cfg.paths.output_dir), name
    elif group == "callbacks":
        built = build.build_callbacks(cfg, build.build_evaluator(cfg), has_validation=True)
        enabled = [c for c in node.values() if build.is_enabled(c)]
        names = [type(c).__name__ for c in built]
        assert names[: len(enabled)] == [str(c._target_).rsplit(".", 1)[1] for c in enabled]
        assert names.count("RetrievalEvaluator") == 1


@pytest.mark.parametrize("option", options("data"))
def test_data_option_composes(make_cfg, option):
    cfg = make_cfg(f"data={option}")
    resolved = OmegaConf.to_container(cfg.data, resolve=True)
    assert resolved["_target_"] == "metriclab.data.MetricDataModule"
    assert resolved["reader"]["_partial_"] is True
    datamodule = instantiate(cfg.data, sampler=None, seed=0)
    assert datamodule.batch_size == resolved["batch_size"]


@pytest.mark.parametrize("option", options("experiment"))
def test_experiment_composes(make_cfg, option):
    resolve(make_cfg(f"experiment={option}", tiny=False))


@pytest.mark.parametrize("option", options("recipe_loss"))
def test_every_recipe_loss_file_names_an_experiment_and_a_loss(option):
    """recipe_loss/<experiment>_<loss>.yaml: a misspelt name would never load."""
    pairs = {f"{e}_{loss}" for e in options("experiment") for loss in options("loss")}
    assert option in pairs


@pytest.mark.parametrize("experiment", ["cub_lite0", "cars_lite0"])
def test_a_recipes_loss_settings_follow_its_loss_only(make_cfg, experiment):
    """cub_lite0's contrastive margin (recipe_loss/) applies to contrastive, not to a swept loss."""
    own = resolve(make_cfg(f"experiment={experiment}", tiny=False))
    assert own["loss"]["_target_"].endswith("ContrastiveLoss")
    assert own["loss"]["neg_margin"] == 0.8
    assert own["data"]["crop_scale"] == [0.75, 1.0]
    swept = resolve(make_cfg(f"experiment={experiment}", "loss=proxy_anchor", tiny=False))
    assert "neg_margin" not in swept["loss"]
    loss = make_cfg(f"experiment={experiment}", "loss=proxy_anchor", tiny=False).loss
    instantiate(loss, num_classes=5, embedding_size=8)  # no key it does not take
    mine = resolve(make_cfg(f"experiment={experiment}", "loss.neg_margin=1.0", tiny=False))
    assert mine["loss"]["neg_margin"] == 1.0  # the command line still wins
    plain = resolve(make_cfg("loss=contrastive", tiny=False))
    assert plain["loss"]["neg_margin"] == 1.0  # no experiment: the loss's own default


def test_hydra_run_and_sweep_dirs_live_under_outputs(make_cfg, tmp_path):
    cfg = make_cfg(f"paths.log_dir={tmp_path / 'logs'}")
    run_dir = Path(OmegaConf.to_container(cfg.hydra.run, resolve=True)["dir"])
    sweep_dir = Path(OmegaConf.select(cfg, "hydra.sweep.dir"))
    assert run_dir.parent.parent == tmp_path / "logs" / "runs"
    assert sweep_dir.parent.parent == tmp_path / "logs" / "multirun"
    default = make_cfg(tiny=False)
    assert OmegaConf.to_container(default.paths, resolve=True)["log_dir"].endswith("outputs")
