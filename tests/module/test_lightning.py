"""MetricLearningModule: optimizer groups and learning rates, channels-last, compile."""

from __future__ import annotations

import pytest
import torch

from metriclab.build import (
    build_datamodule,
    build_loss,
    build_miner,
    build_model,
    build_module,
    build_trainer,
)


def module_for(cfg):
    datamodule = build_datamodule(cfg)
    model = build_model(cfg)
    loss = build_loss(cfg, datamodule.num_classes, model.embedding_size)
    return build_module(cfg, model, loss, build_miner(cfg, loss))


def test_param_groups_have_their_learning_rates(make_cfg):
    module = module_for(
        make_cfg("loss=proxy_anchor", "optimizer.lr=0.001", "module.backbone_lr_multiplier=0.1")
    )
    groups = {g["name"]: g for g in module.param_groups()}
    assert groups["backbone"]["lr"] == pytest.approx(1e-4)
    assert groups["head"]["lr"] == pytest.approx(1e-3)
    assert groups["loss"]["lr"] == pytest.approx(0.1)  # proxies at 100x (paper)
    assert groups["loss"]["params"][0] is module.loss.proxies
    everything = {id(p) for g in groups.values() for p in g["params"]}
    assert everything == {id(p) for p in module.parameters()}


@pytest.mark.slow  # torch.compile on the CPU: about 20 s
def test_channels_last_and_compile_keep_outputs_and_names(make_cfg):
    plain = module_for(make_cfg())
    fast = module_for(make_cfg("module.speed.channels_last=true", "module.speed.compile=true"))
    assert list(plain.state_dict()) == list(fast.state_dict())  # checkpoints interchangeable
    fast.load_state_dict(plain.state_dict())
    conv = next(m for m in fast.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.model._compiled_call_impl is not None  # the forward goes through torch.compile
    x = torch.randn(4, 1, 8, 8)
    plain.eval(), fast.eval()
    torch.testing.assert_close(fast(x), plain(x), rtol=1e-4, atol=1e-5)  # the compiled path


def test_trainer_gpu_turns_on_the_fast_defaults(make_cfg):
    cfg = make_cfg("trainer=gpu", tiny=False)
    assert cfg.trainer.precision == "bf16-mixed" and cfg.trainer.accelerator == "gpu"
    assert cfg.module.speed.channels_last is True and cfg.trainer.benchmark is True
    cpu = make_cfg("trainer=gpu", "trainer.accelerator=cpu")  # no GPU here
    trainer = build_trainer(cpu, callbacks=[], loggers=[])
    assert trainer.precision == "bf16-mixed" and trainer.num_devices == 1
    assert torch.backends.cudnn.benchmark is True
    module = module_for(cpu)
    assert module.channels_last is True
