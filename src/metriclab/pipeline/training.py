"""``train(cfg)``: config -> datamodule -> model -> loss/miner -> Lightning fit + test -> metrics.

The plain function behind ``python train.py`` (tests call it directly). It builds every part
with ``hydra.utils.instantiate`` from its config group, trains with validation each epoch,
tests the best checkpoint and writes ``metrics.json`` into ``cfg.paths.output_dir``.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from metriclab.data import MetricDataModule
from metriclab.data.feature_cache import frozen_feature_cache
from metriclab.errors import ConfigError
from metriclab.losses.base import complete_loss
from metriclab.models import EmbeddingModel
from metriclab.pipeline.evaluator import RetrievalEvaluator
from metriclab.pipeline.faults import NonFiniteLossGuard
from metriclab.pipeline.module import MetricLearningModule
from metriclab.pipeline.report import write_json_atomic
from metriclab.pipeline.run_dir import check_run_dir, prepare_run
from metriclab.pipeline.seeding import EpochSeeder
from metriclab.pipeline.settings import DistributedSettings, SpeedSettings, check_arguments
from metriclab.pipeline.signals import PreemptionCheckpoint, preemption_exit
from metriclab.pipeline.summary import (
    choices_title,
    comparison_table,
    next_steps,
    untrained_metrics,
    wants_untrained,
)

log = logging.getLogger("metriclab")


def is_enabled(node: Any) -> bool:
    """A component config that builds something (``miner=none`` / ``scheduler=none`` do not)."""
    return isinstance(node, DictConfig) and "_target_" in node


def build_datamodule(cfg: DictConfig) -> MetricDataModule:
    """The datamodule of ``cfg.data`` with the ``cfg.sampler`` factory, read and checked."""
    sampler = instantiate(cfg.sampler) if is_enabled(cfg.get("sampler")) else None
    datamodule = instantiate(cfg.data, sampler=sampler, seed=cfg.seed)
    datamodule.setup("fit")
    return datamodule


def loss_normalizes(cfg: DictConfig) -> bool:
    """Whether the loss of ``cfg.loss`` expects L2-normalised embeddings (its class's
    ``normalized_embeddings``, true but for Sohn's N-pair loss)."""
    target = OmegaConf.select(cfg, "loss._target_", default=None)
    return bool(getattr(get_object(target), "normalized_embeddings", True)) if target else True


def build_model(cfg: DictConfig) -> EmbeddingModel:
    """Backbone (reports ``num_features``) + embedding head sized from it; the head normalises
    as ``head.normalize`` says, or (``null``) as the loss expects."""
    backbone = instantiate(cfg.backbone)
    head = instantiate(cfg.head)
    normalize = cfg.head.get("normalize")
    normalize = loss_normalizes(cfg) if normalize is None else bool(normalize)
    return EmbeddingModel(backbone, head(in_features=backbone.num_features, normalize=normalize))


def build_loss(cfg: DictConfig, num_classes: int, embedding_size: int):
    """The loss of ``cfg.loss``; proxy/classifier losses get ``num_classes``/``embedding_size``."""
    filled = {"num_classes": num_classes, "embedding_size": embedding_size}
    for key, value in filled.items():
        given = cfg.loss.get(key)
        if given is not None and int(given) != value:
            raise ConfigError(
                f"loss.{key}={given} does not match the {value} the pipeline derives (from the "
                f"{'training classes' if key == 'num_classes' else 'head.embedding_size'}); "
                f"remove loss.{key}: it is filled in"
            )
    factory = instantiate(cfg.loss, _partial_=True)
    return complete_loss(factory, **filled)


def build_miner(cfg: DictConfig, loss) -> Any:
    """The miner of ``cfg.miner`` (``None`` for ``miner=none``); refused by proxy losses."""
    if not is_enabled(cfg.get("miner")):
        return None
    if not getattr(loss, "accepts_miner", True):
        chosen = OmegaConf.select(cfg, "hydra.runtime.choices.miner", default=None) or "a miner"
        raise ConfigError(
            f"loss {type(loss).__name__} compares embeddings with class proxies and takes no "
            f"miner, but miner={chosen} was given; use miner=none with this loss"
        )
    return instantiate(cfg.miner)


def speed_settings(cfg: DictConfig) -> SpeedSettings:
    """``cfg.speed`` built (its defaults when the config has none)."""
    return instantiate(cfg.speed) if "speed" in cfg else SpeedSettings()


def build_module(cfg: DictConfig, model: EmbeddingModel, loss, miner) -> MetricLearningModule:
    optimizer_cfg = OmegaConf.to_container(cfg.optimizer, resolve=True)
    backbone_mult = optimizer_cfg.pop("backbone_lr_multiplier", 1.0)
    check_arguments(OmegaConf.create(optimizer_cfg), "optimizer")  # the partial fails late
    scheduler = instantiate(cfg.scheduler) if is_enabled(cfg.get("scheduler")) else None
    speed = speed_settings(cfg)
    distributed: DistributedSettings = (
        instantiate(cfg.distributed) if "distributed" in cfg else DistributedSettings()
    )
    return MetricLearningModule(
        model=model,
        loss=loss,
        miner=miner,
        optimizer=instantiate(optimizer_cfg),
        scheduler=scheduler,
        backbone_lr_multiplier=backbone_mult,
        gather_embeddings=distributed.gather_embeddings,
        mine_locally=distributed.mine_locally,
        channels_last=speed.channels_last,
        compile_model=speed.compile,
    )


def build_callbacks(
    cfg: DictConfig, has_validation: bool, has_logger: bool = True
) -> list[pl.Callback]:
    """The callbacks of ``cfg.callbacks`` (always with an evaluator; the learning-rate monitor
    only when something logs) and the reliability ones (per-epoch seeding, the non-finite loss
    guard of ``on_nonfinite_loss``, the SIGTERM checkpoint)."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if is_enabled(c)]
    callbacks += [
        EpochSeeder(cfg.seed),
        NonFiniteLossGuard(cfg.get("on_nonfinite_loss", "stop")),
        PreemptionCheckpoint(),
    ]
    if not has_logger:
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not any(isinstance(c, RetrievalEvaluator) for c in callbacks):
        callbacks.append(RetrievalEvaluator(seed=cfg.seed))
    for callback in callbacks:
        if isinstance(callback, ModelCheckpoint) and not has_validation:
            callback.monitor = None  # no validation: the last epoch is the best
    return callbacks


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback], loggers: list) -> pl.Trainer:
    """The Lightning ``Trainer`` of ``cfg.trainer``; a device it cannot have is a ConfigError."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        chosen = OmegaConf.select(cfg, "hydra.runtime.choices.trainer", default=None)
        raise ConfigError(
            f"trainer.accelerator={accelerator}"
            + (f" (trainer={chosen})" if chosen else "")
            + " needs a CUDA GPU, but torch sees none on this machine; use trainer=default "
            "(CPU, or any GPU found), or run on a machine with a GPU and a CUDA build of torch"
        )
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, MisconfigurationException):  # Lightning: a user setting
            message = " ".join(str(exc.__cause__).split())
            raise ConfigError(f"trainer: {message}") from exc
        raise


def build_loggers(cfg: DictConfig) -> list:
    return [instantiate(c) for c in (cfg.get("logger") or {}).values() if is_enabled(c)]


def feature_cache(
    cfg: DictConfig, module: MetricLearningModule, datamodule: MetricDataModule, trainer
) -> AbstractContextManager:
    """``speed.frozen_feature_cache`` views of the frozen prefix's output, for a training run
    (``train=false`` embeds the images as they are)."""
    speed = speed_settings(cfg)
    if not speed.frozen_feature_cache or not cfg.get("train", True):
        return nullcontext()
    return frozen_feature_cache(
        module.model,
        datamodule,
        int(speed.frozen_feature_cache),
        trainer.strategy.root_device,
        speed.frozen_feature_dtype,
        speed.channels_last,
        cfg.seed,
    )


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Train, validate every epoch, test the best checkpoint; return ``(metrics, objects)``.

    ``metrics``: the ``metrics.json`` content (``test/<metric>``, ``best_epoch`` (0-based),
    ``train_time_s``) plus the best ``val/…`` values; ``objects``: the built parts.
    """
    output_dir = Path(cfg.paths.output_dir)
    check_arguments(cfg)  # no key that its _target_ would not take (a typo is never ignored)
    check_run_dir(output_dir, cfg.get("ckpt_path"))  # writable; a new run never reuses one
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg)
    loss = build_loss(cfg, datamodule.num_classes, model.embedding_size)
    miner = build_miner(cfg, loss)
    module = build_module(cfg, model, loss, miner)
    loggers = build_loggers(cfg)
    callbacks = build_callbacks(cfg, datamodule.has_validation, has_logger=bool(loggers))
    evaluator = next(c for c in callbacks if isinstance(c, RetrievalEvaluator))
    if evaluator.prefix_dims is None:  # a Matryoshka loss: score each of its prefixes
        evaluator.prefix_dims = tuple(getattr(loss, "dims", ())[:-1])
    trainer = build_trainer(cfg, callbacks, loggers)
    ckpt_path = prepare_run(cfg, trainer, module, output_dir)  # checked; run_info.json
    with feature_cache(cfg, module, datamodule, trainer) as cache_seconds:
        untrained = None
        if wants_untrained(cfg, trainer):  # the row every paper reports first
            nmi = evaluator.nmi["test"]
            device = trainer.strategy.root_device
            untrained = untrained_metrics(module, datamodule, device, evaluator.ks, nmi)

        start = time.perf_counter()
        if cfg.get("train", True):
            with preemption_exit(trainer, output_dir):
                trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        train_time = time.perf_counter() - start

        checkpoint = next((c for c in callbacks if isinstance(c, ModelCheckpoint)), None)
        best_path = checkpoint.best_model_path if checkpoint is not None else ""
        metrics: dict[str, float] = {}
        if cfg.get("test", True):
            test_ckpt = best_path or (None if cfg.get("train", True) else ckpt_path)
            with preemption_exit(trainer, output_dir):
                trainer.test(
                    module,
                    datamodule=datamodule,
                    ckpt_path=test_ckpt,
                    verbose=False,
                    weights_only=True,
                )
            metrics.update(evaluator.results.get("test", {}))
    monitor = cfg.get("optimized_metric", "val/recall@1")
    best_epoch = evaluator.best_epoch(monitor)
    metrics["best_epoch"] = (
        best_epoch if best_epoch is not None else max(0, trainer.current_epoch - 1)
    )
    metrics["train_time_s"] = round(train_time, 3)
    if cache_seconds is not None:  # the frozen prefix's pass over the images, before training
        metrics["feature_cache_s"] = round(cache_seconds, 3)
    best_val = next((m for e, m in evaluator.history if e == best_epoch), {})
    objects = {
        "cfg": cfg,
        "datamodule": datamodule,
        "module": module,
        "trainer": trainer,
        "evaluator": evaluator,
        "best_ckpt": best_path,
    }
    if trainer.is_global_zero and cfg.get("test", True) and not trainer.fast_dev_run:
        write_json_atomic(output_dir / "metrics.json", metrics)
        if untrained:
            write_json_atomic(output_dir / "metrics_untrained.json", untrained)
    if trainer.is_global_zero:
        print(comparison_table({**best_val, **metrics}, untrained, choices_title(cfg)))
        print(next_steps(output_dir, best_path))
    objects["untrained"] = untrained
    return {**best_val, **metrics}, objects
