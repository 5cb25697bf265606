"""``train(cfg)``: config -> datamodule -> model -> loss/miner -> Lightning fit + test -> metrics.

The loop behind ``python train.py`` (tests call it directly, on a config
:func:`metriclab.commands.arguments.check_arguments` would pass). It builds every part from its
config group (:mod:`metriclab.build`), trains with validation each epoch, tests the best
checkpoint and writes ``metrics.json`` into ``cfg.paths.output_dir``: the evaluator's
``results["test"]`` (:func:`~metriclab.build.build_evaluator`), ``best_epoch`` and the times.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint

from metriclab.build import (
    build_callbacks,
    build_datamodule,
    build_evaluator,
    build_loggers,
    build_loss,
    build_miner,
    build_model,
    build_module,
    build_trainer,
    module_settings,
)
from metriclab.callbacks.preemption import preemption_exit
from metriclab.data import MetricDataModule
from metriclab.data.feature_cache import frozen_feature_cache
from metriclab.module.lightning import MetricLearningModule
from metriclab.pipeline.summary import (
    choices_title,
    comparison_table,
    next_steps,
    untrained_metrics,
    wants_untrained,
)
from metriclab.runs.report import write_json_atomic
from metriclab.runs.run_dir import check_run_dir, is_resuming, prepare_run

log = logging.getLogger("metriclab")


def feature_cache(
    cfg: DictConfig, module: MetricLearningModule, datamodule: MetricDataModule, trainer
) -> AbstractContextManager:
    """``module.speed.frozen_feature_cache`` views of the frozen prefix's output, for a training
    run (``train=false`` embeds the images as they are; ``test=false`` leaves the test split
    uncached, as a search on validation folds never reads it)."""
    speed = module_settings(cfg).speed
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
        OmegaConf.select(cfg, "paths.feature_cache_dir", default=None),  # on disk, shared
        skip=() if cfg.get("test", True) else ("test",),
    )


def carried_untrained(run_dir: Path) -> dict[str, float] | None:
    """The untrained metrics the first start of a resumed run wrote (``None``: none there)."""
    try:
        return json.loads((run_dir / "metrics_untrained.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def train(cfg: DictConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Train, validate every epoch, test the best checkpoint; return ``(metrics, objects)``.

    ``metrics``: the ``metrics.json`` content (``test/<metric>``, ``best_epoch`` (0-based),
    ``train_time_s``) plus the best ``val/…`` values; ``objects``: the built parts.
    """
    output_dir = Path(cfg.paths.output_dir)
    check_run_dir(output_dir, cfg.get("ckpt_path"))  # writable; a new run never reuses one
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg)
    model = build_model(cfg)
    loss = build_loss(cfg, datamodule.num_classes, model.embedding_size)
    miner = build_miner(cfg, loss)
    module = build_module(cfg, model, loss, miner)
    loggers = build_loggers(cfg)
    evaluator = build_evaluator(cfg, loss)  # its results["test"] become metrics.json
    callbacks = build_callbacks(cfg, evaluator, datamodule.has_validation, bool(loggers))
    trainer = build_trainer(cfg, callbacks, loggers)
    ckpt_path = prepare_run(cfg, trainer, module, output_dir)  # checked; run_info.json
    resuming = is_resuming(cfg.get("ckpt_path"), output_dir)
    keeps_outputs = trainer.is_global_zero and cfg.get("test", True) and not trainer.fast_dev_run
    with feature_cache(cfg, module, datamodule, trainer) as cache_seconds:
        untrained = carried_untrained(output_dir) if resuming else None  # from the first start
        if untrained is None and wants_untrained(cfg, trainer, resuming):  # papers' first row
            nmi = evaluator.nmi["test"]
            device = trainer.strategy.root_device
            embed = evaluator.embed  # the evaluator's test-time flips, if any
            untrained = untrained_metrics(module, datamodule, device, evaluator.ks, nmi, embed)
            if keeps_outputs:  # now: a resumed run carries it over
                write_json_atomic(output_dir / "metrics_untrained.json", untrained)

        start = time.perf_counter()
        if cfg.get("train", True):
            with preemption_exit(trainer, output_dir), warnings.catch_warnings():
                if resuming:  # the run's own checkpoints: expected there
                    warnings.filterwarnings("ignore", "Checkpoint directory .* is not empty")
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
            metrics.update(evaluator.results.get("test", {}))  # the hand-off to metrics.json
    monitor = cfg.get("optimized_metric", "val/recall@1")
    best_epoch = evaluator.best_epoch(monitor)
    if cfg.get("train", True):  # train=false trained nothing: no best epoch to show
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
    if keeps_outputs:
        write_json_atomic(output_dir / "metrics.json", metrics)
        if untrained:
            write_json_atomic(output_dir / "metrics_untrained.json", untrained)
    if trainer.is_global_zero:
        print(comparison_table({**best_val, **metrics}, untrained, choices_title(cfg)))
        print(next_steps(output_dir, best_path))
    objects["untrained"] = untrained
    return {**best_val, **metrics}, objects
