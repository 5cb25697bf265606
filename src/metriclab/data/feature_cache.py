"""Cache what a frozen backbone prefix computes, and train only the rest.

With ``backbone.frozen_stages=k`` the stem and the first ``k`` stages have no gradient and run in
eval mode: their output for a given input image is fixed. ``module.speed.frozen_feature_cache=V``
runs that prefix once, before training, on ``V`` augmented views of every training image (the
training transform: random crop and flip) and on every evaluation image (the test transform), keeps
the outputs in memory, and trains and evaluates the network from the cut
(:meth:`EmbeddingModel.forward` with ``from_cut``). Each training step then costs the trained
stages only: ``experiment=cub_lite0`` (Lite0 at 224 px, stages 1-3 cached) trains 27.5 images/s on
a 2-core CPU, the caching pass included, where a plain loop over the whole network at 160 px does
22.5 (docs/real_photos.md).

What changes: each epoch draws, per image, one of its ``V`` cached views (uniformly, from a
generator seeded by ``seed``) instead of a fresh random crop, so augmentation has ``V`` views per
image for the whole run. Memory: ``V x N x C_k x h x w`` values (``bfloat16`` by default: 31 KB per
224-px view at Lite0's 4th stage, 80 x 14 x 14).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from metriclab.data.dataset import MetricDataset
from metriclab.errors import ConfigError

log = logging.getLogger("metriclab")

DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}


class FeatureDataset(Dataset):
    """A split's cached prefix outputs: ``(features [C_k, h, w] float32, label, index)`` items.

    Args:
        base: the image dataset the features were computed from (its ``labels``, ``split`` and
            ``image()`` stay available, for dashboards).
        features: ``[V, N, C_k, h, w]``, ``V`` views of each of the ``N`` items.
        seed: seeds the per-access draw of a view (``V > 1``).
    """

    def __init__(self, base: MetricDataset, features: torch.Tensor, seed: int = 0) -> None:
        if features.shape[1] != len(base):
            raise ValueError(f"{features.shape[1]} cached items for a split of {len(base)}")
        self.base, self.features = base, features
        self.labels, self.split, self.image = base.labels, base.split, base.image
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return self.base.num_classes

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        views = self.features.shape[0]
        view = int(self.rng.integers(views)) if views > 1 else 0
        return self.features[view, index].float(), int(self.labels[index]), int(index)


@torch.no_grad()
def prefix_outputs(
    prefix: nn.Module,
    dataset: MetricDataset,
    views: int,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    channels_last: bool = False,
    desc: str = "cache",
) -> torch.Tensor:
    """``prefix`` applied to ``views`` passes over ``dataset`` (its transform draws each pass's
    crops): ``[views, N, C_k, h, w]`` in ``dtype``, on the CPU. ``bfloat16`` runs the prefix
    under bf16 autocast (fast on CPUs with AVX-512 bf16, and on GPUs). A progress bar shows on
    a terminal."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    passes = []
    for view in range(views):
        chunks = []
        shown = tqdm(
            loader,
            desc=f"{desc} view {view + 1}/{views}",
            leave=False,
            disable=not sys.stderr.isatty(),
        )
        for images, _, _ in shown:
            images = images.to(device)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype != torch.float32):
                chunks.append(prefix(images).to("cpu", dtype).contiguous())
        passes.append(torch.cat(chunks))
    return torch.stack(passes)


@contextmanager
def frozen_feature_cache(
    model: nn.Module,
    datamodule,
    views: int,
    device: torch.device,
    dtype: str = "bfloat16",
    channels_last: bool = False,
    seed: int = 0,
) -> Iterator[float]:
    """Within the block, every split of ``datamodule`` serves cached prefix outputs (``views``
    of each training image, one of each evaluation image) and ``model`` starts from the cut.

    Args:
        model: an :class:`~metriclab.models.EmbeddingModel` whose backbone has a frozen prefix
            (``frozen_prefix()`` / ``forward_from_cut()``: ``backbone.frozen_stages >= 1``).
        datamodule: a set-up :class:`~metriclab.data.MetricDataModule`.
        views: augmented views cached per training image (>= 1).
        device: where the prefix runs (the trainer's root device).
        dtype: ``"bfloat16"`` (half the memory; the prefix under bf16 autocast) or ``"float32"``.
        channels_last: NHWC inputs (``module.speed.channels_last``).
        seed: seeds which view each access draws.

    Yields the seconds the caching took. On exit the datasets and the model are as before (the
    model embeds images again).
    """
    backbone = model.backbone
    prefix = backbone.frozen_prefix() if hasattr(backbone, "frozen_prefix") else None
    if prefix is None:
        frozen = getattr(backbone, "frozen_stages", None)
        raise ConfigError(
            f"module.speed.frozen_feature_cache={views} caches the output of the backbone's frozen "
            f"stages, but {type(backbone).__name__} has "
            + ("none (backbone.frozen_stages=0)" if frozen == 0 else "no frozen-stage prefix")
            + "; set backbone.frozen_stages=N (EfficientNet-Lite) or "
            "module.speed.frozen_feature_cache=0"
        )
    if dtype not in DTYPES:
        raise ConfigError(
            f"module.speed.frozen_feature_dtype={dtype!r} is not a cache dtype; use "
            + " or ".join(DTYPES)
        )
    original = dict(datamodule.datasets)
    was_training, home = model.training, next(model.parameters()).device
    model.eval().to(device)
    cached: dict[int, FeatureDataset] = {}
    began = time.perf_counter()
    try:
        for key, dataset in original.items():
            if id(dataset) not in cached:
                count = views if key == "train" else 1
                start = time.perf_counter()
                features = prefix_outputs(
                    prefix,
                    dataset,
                    count,
                    datamodule.eval_batch_size,
                    device,
                    DTYPES[dtype],
                    channels_last,
                    f"caching {datamodule.name}/{key}",
                )
                log.info(
                    "%s/%s: cached the frozen prefix's output for %d view(s) x %d images, "
                    "%s each, %.0f MB %s, in %.0f s",
                    datamodule.name,
                    key,
                    count,
                    len(dataset),
                    "x".join(map(str, features.shape[2:])),
                    features.numel() * features.element_size() / 2**20,
                    dtype,
                    time.perf_counter() - start,
                )
                cached[id(dataset)] = FeatureDataset(dataset, features, seed)
            datamodule.datasets[key] = cached[id(dataset)]
        model.train(was_training).to(home)
        model.from_cut = True
        yield time.perf_counter() - began
    finally:
        model.from_cut = False
        datamodule.datasets.clear()
        datamodule.datasets.update(original)
