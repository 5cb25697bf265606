"""Factories: each part of a run built from its config group with ``hydra.utils.instantiate``.

``train(cfg)`` (:mod:`metriclab.pipeline.training`) and the scripts that reopen a run
(:mod:`metriclab.deployment.loading`) build the same parts the same way, from here:

- :func:`build_datamodule` - ``data`` + ``sampler``;
- :func:`build_model` - ``backbone`` + ``head`` (normalised as the loss expects);
- :func:`build_loss` / :func:`build_miner` - ``loss`` (sizes filled in) and ``miner``;
- :func:`build_module` - the LightningModule: the above with ``optimizer``, ``scheduler`` and
  ``module`` (:mod:`metriclab.module`);
- :func:`build_evaluator` - ``callbacks.evaluator``, the callback whose ``results`` become
  ``metrics.json`` (scoring the Matryoshka loss's prefixes when ``prefix_dims`` is null);
- :func:`build_callbacks`, :func:`build_loggers`, :func:`build_trainer` - ``callbacks`` (the
  evaluator among them), ``logger`` and ``trainer``.

The config itself was checked before (:func:`metriclab.commands.arguments.check_arguments`).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from metriclab.callbacks.evaluator import RetrievalEvaluator
from metriclab.data import MetricDataModule
from metriclab.errors import ConfigError
from metriclab.losses.base import complete_loss
from metriclab.models import EmbeddingModel
from metriclab.module.lightning import MetricLearningModule
from metriclab.module.settings import ModuleSettings


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
    loss = complete_loss(factory, **filled)
    if cfg.get("train", True):
        check_loss_meets_batches(cfg, loss)
    return loss


def check_loss_meets_batches(cfg: DictConfig, loss) -> None:
    """Refuse a loss that the training batches leave at 0: a pair-based loss
    (``needs_positive_pairs``) on ``sampler.m=1`` batches, or a cross-batch memory smaller
    than a batch. A proxy loss on ``m=1`` and any loss on ``sampler=random`` pass."""
    m = OmegaConf.select(cfg, "sampler.m", default=None)
    if m is not None and int(m) == 1 and getattr(loss, "needs_positive_pairs", False):
        raise ConfigError(
            f"sampler.m=1: each batch holds one image per class, so the pair-based "
            f"{type(loss).__name__} finds no positive pair and its loss is 0 at every step "
            "(the model would not train); set sampler.m=2 or more (e.g. sampler.m=4), or use "
            "a proxy loss that trains on one image per class (loss=proxy_anchor, normsoftmax, "
            "arcface)"
        )
    memory, batch = getattr(loss, "memory_size", None), int(cfg.data.batch_size)
    if memory is not None and int(memory) < batch:
        raise ConfigError(
            f"loss.memory_size={memory} is smaller than a batch (data.batch_size={batch}): "
            f"the cross-batch memory holds at least one batch; set loss.memory_size="
            f"{max(1024, batch)}"
        )


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


def module_settings(cfg: DictConfig) -> ModuleSettings:
    """``cfg.module`` built (its defaults when the config has none)."""
    return instantiate(cfg.module) if "module" in cfg else ModuleSettings()


def build_module(cfg: DictConfig, model: EmbeddingModel, loss, miner) -> MetricLearningModule:
    """The LightningModule: ``model``, ``loss``, ``miner``, the ``optimizer`` and ``scheduler``
    partials, and the ``module`` settings (learning-rate groups, speed, DDP)."""
    scheduler = instantiate(cfg.scheduler) if is_enabled(cfg.get("scheduler")) else None
    settings = module_settings(cfg)
    return MetricLearningModule(
        model=model,
        loss=loss,
        miner=miner,
        optimizer=instantiate(cfg.optimizer),
        scheduler=scheduler,
        backbone_lr_multiplier=settings.backbone_lr_multiplier,
        gather_embeddings=settings.distributed.gather_embeddings,
        mine_locally=settings.distributed.mine_locally,
        channels_last=settings.speed.channels_last,
        compile_model=settings.speed.compile,
    )


def build_evaluator(cfg: DictConfig, loss: Any = None) -> RetrievalEvaluator:
    """``callbacks.evaluator``: the callback that scores every validation and the test, and
    whose ``results["test"]`` become ``metrics.json``. ``prefix_dims: null`` scores the
    prefixes the loss trains (``loss.dims`` but the full size: Matryoshka's), else none. A run
    without it is refused (it computes every metric ``metrics.json`` holds)."""
    node = OmegaConf.select(cfg, "callbacks.evaluator", default=None)
    evaluator = None
    if is_enabled(node):
        follow_loss = node.get("prefix_dims") is None  # null: the loss's nested prefixes
        prefixes = {"prefix_dims": tuple(getattr(loss, "dims", ())[:-1])} if follow_loss else {}
        evaluator = instantiate(node, **prefixes)
    if not isinstance(evaluator, RetrievalEvaluator):
        raise ConfigError(
            "callbacks: no RetrievalEvaluator (callbacks.evaluator was removed), but a run "
            "needs it to compute its metrics; keep callbacks.evaluator (callbacks=default)"
        )
    return evaluator


def build_callbacks(
    cfg: DictConfig,
    evaluator: RetrievalEvaluator,
    has_validation: bool,
    has_logger: bool = True,
) -> list[pl.Callback]:
    """The callbacks of ``cfg.callbacks`` in their config order, each from its ``_target_``
    (nothing is added behind the user's back), ``callbacks.evaluator`` being ``evaluator``
    (:func:`build_evaluator`). The learning-rate monitor is dropped when nothing logs, a
    checkpoint callback without validation keeps the last epoch."""
    callbacks = [
        evaluator if key == "evaluator" else instantiate(c)
        for key, c in (cfg.get("callbacks") or {}).items()
        if is_enabled(c)
    ]
    if not has_logger:
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
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
    for key in ("max_epochs", "max_steps", "limit_train_batches"):
        value = cfg.trainer.get(key)
        if cfg.get("train", True) and isinstance(value, int | float) and value == 0:
            raise ConfigError(
                f"trainer.{key}={value} trains nothing: the 'trained' metrics would be the "
                "untrained model's and status.json would say completed; to measure the "
                f"untrained model use train=false, to train set trainer.{key} >= 1"
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
