"""The datamodule: a reader's splits -> validation slice -> datasets -> loaders.

``configs/data/<name>.yaml`` builds one :class:`MetricDataModule`; ``train(cfg)`` adds the batch
sampler factory (``cfg.sampler``) and the seed. Splits:

- ``train``: the training classes minus the validation slice;
- ``val``: by default a class-disjoint slice of the training classes (the last ``val_classes`` of
  them in sorted order), as "A Metric Learning Reality Check" recommends; ``val_on_test=true``
  validates on the test split instead (the older protocol of the papers); ``val_classes=0`` and
  no ``val_on_test``: no validation (the last epoch is the best); with ``folds=k`` (set by
  ``protocol=kfold``) fold ``fold`` of the class-disjoint k-fold rule of
  :mod:`metriclab.data.folds` instead;
- ``test``: the test split, or ``query`` -> ``gallery`` where the reader returns those (In-Shop).

Labels are remapped to ``0..C-1`` per split (query and gallery together).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from metriclab.data.base import Split, split_validation
from metriclab.data.cache import cache_split
from metriclab.data.dataset import MetricDataset, remap_labels
from metriclab.data.folds import fold_classes
from metriclab.data.images import check_readable
from metriclab.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transform, default_resize
from metriclab.errors import ConfigError

log = logging.getLogger("metriclab.data")


def usable_workers(requested: int) -> int:
    """``requested`` DataLoader workers, capped at the CPU cores this process may use.

    The dataset configs ask for a GPU machine's worth of workers (8 for 224 px JPEGs); on a
    laptop or a 2-core CI box more workers than cores only add contention. Logs when capped.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, cores or 1)
    if requested > cores:
        log.info("data.num_workers=%d capped at the %d CPU cores available", requested, cores)
        return cores
    return requested


SamplerFactory = Callable[..., Sampler]


class MetricDataModule(pl.LightningDataModule):
    """Datasets and loaders of one dataset under the class-disjoint protocol.

    Args:
        reader: ``reader(root=...) -> dict[str, Split]`` (a Hydra ``_partial_`` of
            ``metriclab.data.readers.read_<name>`` with its options).
        name: the dataset's name (for messages).
        root: the dataset folder, ``data.root``.
        batch_size: training batch size; ``eval_batch_size`` for embedding val/test (default 2x).
        num_workers, pin_memory, persistent_workers: DataLoader options (pinning only with CUDA).
        image_size: the side the model sees; ``resize_size`` the test-time resize (default by
            ``train_augment``, see :mod:`metriclab.data.transforms`); ``crop_scale`` the area range
            of the standard random crop; ``affine`` the ranges of the ``"affine"`` augmentation
            (``degrees``, ``translate``, ``scale``, ``shear``); ``resize`` how a photo meets the
            square, ``"shorter_side"`` (aspect kept, center crop) or ``"square"`` (the whole
            photo squashed first), for training and test alike.
        channels: 1 (grayscale) or 3 (RGB); ``mean`` / ``std`` per channel.
        val_classes: validation classes sliced off the training classes (count or fraction).
        val_on_test: validate on the test split (papers' older protocol) instead.
        skip_unreadable: drop (and count) images that cannot be decoded instead of failing.
        cache_images: decode and resize every image once (to ``resize_size``, aspect kept) and
            keep the ``uint8`` pixels in memory; random crops still differ per epoch
            (see :mod:`metriclab.data.cache`).
        m_per_class: the dataset's default ``sampler.m`` (the sampler config reads it).
        sampler: ``sampler(labels=, batch_size=, seed=, num_replicas=, rank=)`` -> batch sampler.
        seed: seeds the sampler's draws.
        folds, fold: ``folds=k >= 2`` (``protocol=kfold`` sets both): validate on fold ``fold``
            of the k class-disjoint folds of the training classes (:mod:`metriclab.data.folds`)
            instead of ``val_classes``; ``0``: no protocol.
    """

    def __init__(
        self,
        reader: Callable[..., dict[str, Split]],
        name: str = "data",
        root: str | None = None,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        image_size: int = 224,
        resize_size: int | None = None,
        crop_scale: Sequence[float] = (0.16, 1.0),
        affine: Mapping[str, Any] | None = None,
        train_augment: str = "standard",
        resize: str = "shorter_side",
        channels: int = 3,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        val_classes: float = 0.2,
        val_on_test: bool = False,
        skip_unreadable: bool = False,
        cache_images: bool = False,
        m_per_class: int = 4,
        sampler: SamplerFactory | None = None,
        seed: int = 0,
        folds: int = 0,
        fold: int = 0,
    ) -> None:
        super().__init__()
        if folds and val_on_test:
            raise ConfigError(
                "protocol=kfold validates on folds of the training classes, but "
                "data.val_on_test=true validates on the test split; drop one of them"
            )
        if channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 or 3, got {channels}")
        if len(mean) != channels or len(std) != channels:
            raise ConfigError(
                f"data.mean / data.std need {channels} value(s) for data.channels={channels}; "
                f"got {list(mean)} / {list(std)}"
            )
        self.reader, self.name, self.root = reader, name, root
        self.batch_size = int(batch_size)
        self.eval_batch_size = int(eval_batch_size or 2 * batch_size)
        self.num_workers = usable_workers(int(num_workers))
        self.pin_memory, self.persistent_workers = bool(pin_memory), bool(persistent_workers)
        self.channels = channels
        transform_args = dict(
            image_size=image_size,
            train_augment=train_augment,
            resize=resize,
            resize_size=resize_size,
            crop_scale=crop_scale,
            affine=dict(affine) if affine else None,
            mean=mean,
            std=std,
        )
        self.resize_size = int(resize_size or default_resize(image_size, train_augment))
        self.train_transform = build_transform(train=True, **transform_args)
        self.eval_transform = build_transform(train=False, **transform_args)
        self.val_classes, self.val_on_test = val_classes, bool(val_on_test)
        self.skip_unreadable, self.cache_images = bool(skip_unreadable), bool(cache_images)
        self.m_per_class = int(m_per_class)
        self.sampler_factory = sampler
        self.seed = int(seed)
        if folds and not str(fold).lstrip("-").isdigit():
            raise ConfigError(
                f"protocol.fold={fold} is not a fold number; protocol.fold=all (every fold in "
                "one job) is for train.py's sweeps: use protocol.fold=0..k-1 here"
            )
        self.folds, self.fold = int(folds or 0), int(fold or 0)
        self.datasets: dict[str, MetricDataset] = {}
        #: original class ids of each split (``split.json``): ``train``, ``val``, ``test``
        self.class_split: dict[str, list[int]] = {}

    # ----------------------------------------------------------------- splits
    def setup(self, stage: str | None = None) -> None:
        """Read the dataset once and build every split's dataset."""
        if self.datasets:
            return
        splits = self.reader(root=self.root)
        if not self.cache_images:  # every file checked once (the cache checks as it decodes)
            splits = check_readable(splits, f"data={self.name}", self.skip_unreadable)
        if self.folds:
            train_ids, val_ids = fold_classes(splits["train"].classes, self.folds, self.fold)
            train, val = (
                splits["train"].with_classes(train_ids),
                splits["train"].with_classes(val_ids),
            )
        else:
            val_classes = 0 if self.val_on_test else self.val_classes
            train, val = split_validation(splits["train"], val_classes)
        chosen = {"train": train, "val": val, "test": splits.get("test")}
        if self.val_on_test:  # query/gallery sets (In-Shop) validate query -> gallery
            chosen["val"] = splits.get("test")
        chosen |= {k: splits[k] for k in ("query", "gallery") if k in splits}
        chosen = self._cached({k: s for k, s in chosen.items() if s is not None})
        tested = [chosen[k].labels for k in ("test", "query", "gallery") if k in chosen]
        self.class_split = {
            "train": chosen["train"].classes.tolist(),
            "val": chosen["val"].classes.tolist() if "val" in chosen else [],
            "test": np.unique(np.concatenate(tested)).tolist() if tested else [],
        }
        paired = [k for k in ("query", "gallery") if k in chosen]
        remapped = dict(zip(paired, remap_labels(*(chosen[k].labels for k in paired)), strict=True))
        for key, split in chosen.items():
            labels = remapped[key] if key in remapped else remap_labels(split.labels)[0]
            transform = self.train_transform if key == "train" else self.eval_transform
            self.datasets[key] = MetricDataset(split, labels, transform, self.channels)
        log.info("%s: %s", self.name, self.describe())
        self.check_sampler()

    def _cached(self, splits: dict[str, Split]) -> dict[str, Split]:
        """``splits`` decoded into memory when ``cache_images`` (a split used twice, once)."""
        if not self.cache_images:
            return splits
        mode = "L" if self.channels == 1 else "RGB"
        done: dict[int, Split] = {}
        for key, split in splits.items():
            if id(split) not in done:
                name, skip = f"{self.name}/{key}", self.skip_unreadable
                done[id(split)] = cache_split(split, mode, self.resize_size, skip, name)
        return {key: done[id(split)] for key, split in splits.items()}

    def describe(self) -> str:
        """``"train 540 images / 3 classes, val 359 / 2 (class-disjoint slice of train), ..."``."""
        parts = [f"{k} {len(d)} images / {d.num_classes} classes" for k, d in self.datasets.items()]
        source = "test split" if self.val_on_test else "class-disjoint slice of train"
        if self.val_splits == ["query", "gallery"]:
            source = "test split, query -> gallery"
        if self.folds:
            source = f"fold {self.fold} of {self.folds} class-disjoint folds of train"
        if self.has_validation:
            parts.append(f"validation on the {source}")
        else:
            parts.append("no validation split (data.val_classes=0)")
        return ", ".join(parts)

    @property
    def num_classes(self) -> int:
        """Classes of the training split (what proxy and classifier losses are sized by)."""
        return self.datasets["train"].num_classes

    @property
    def val_splits(self) -> list[str]:
        """``["val"]``; ``["query", "gallery"]`` when validating on a query/gallery test set;
        ``[]`` without validation."""
        if self.val_on_test and "query" in self.datasets:
            return ["query", "gallery"]
        return ["val"] if "val" in self.datasets else []

    @property
    def has_validation(self) -> bool:
        return bool(self.val_splits)

    @property
    def test_splits(self) -> list[str]:
        """``["test"]``, or ``["query", "gallery"]`` for query/gallery datasets."""
        return ["query", "gallery"] if "query" in self.datasets else ["test"]

    # ---------------------------------------------------------------- loaders
    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 1, 0
        return trainer.world_size, trainer.global_rank

    def train_batch_sampler(self) -> Sampler:
        world, rank = self._world()
        labels = self.datasets["train"].labels
        if self.sampler_factory is None:  # sampler=null: plain random batches, sharded too
            from metriclab.data.samplers import RandomBatchSampler

            factory: SamplerFactory = RandomBatchSampler
        else:
            factory = self.sampler_factory
        return factory(
            labels=labels, batch_size=self.batch_size, seed=self.seed, num_replicas=world, rank=rank
        )

    def check_sampler(self) -> None:
        """Build the training sampler once so its config errors surface before training."""
        self.train_batch_sampler()

    def _loader(self, dataset: MetricDataset, **kwargs) -> DataLoader:
        workers = self.num_workers
        return DataLoader(
            dataset,
            num_workers=workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers and workers > 0,
            **kwargs,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.datasets["train"], batch_sampler=self.train_batch_sampler())

    def eval_dataloader(self, key: str) -> DataLoader:
        """Sequential loader of split ``key``; under DDP each rank takes an interleaved share
        (padded by repetition; the evaluator restores order by index and drops duplicates)."""
        dataset = self.datasets[key]
        world, rank = self._world()
        sampler = None
        if world > 1:
            sampler = DistributedSampler(dataset, world, rank, shuffle=False, drop_last=False)
        return self._loader(dataset, batch_size=self.eval_batch_size, sampler=sampler)

    def val_dataloader(self) -> DataLoader | list:
        loaders = [self.eval_dataloader(k) for k in self.val_splits]
        return loaders[0] if len(loaders) == 1 else loaders

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        loaders = [self.eval_dataloader(k) for k in self.test_splits]
        return loaders[0] if len(loaders) == 1 else loaders
