"""Cache what a frozen backbone prefix computes, and train only the rest.

With ``backbone.frozen_stages=k`` the stem and the first ``k`` stages have no gradient and run in
eval mode: their output for a given input image is fixed. ``module.speed.frozen_feature_cache=V``
runs that prefix once, before training, on ``V`` augmented views of every training image (the
training transform: random crop and flip) and on every evaluation image (the test transform), keeps
the outputs in memory, and trains and evaluates the network from the cut
(:meth:`EmbeddingModel.forward` with ``from_cut``). Each training step then costs the trained
stages only (``experiment=cub_lite0``: Lite0 at 224 px, stages 1-3 cached; its throughput, the
caching pass included, against a plain loop over the whole network: BENCHMARKS.md, "Real photos:
CUB (EfficientNet-Lite0)").

What changes: each epoch draws, per image, one of its ``V`` cached views (uniformly, from a
generator seeded by ``seed``) instead of a fresh random crop, so augmentation has ``V`` views per
image for the whole run. Memory: ``V x N x C_k x h x w`` values (``bfloat16`` by default: 31 KB per
224-px view at Lite0's 4th stage, 80 x 14 x 14).

On disk, shared by the runs of a sweep (``paths.feature_cache_dir=DIR``; ``protocol=kfold`` sets
``${paths.log_dir}/feature_cache``): every loss, fold and seed whose frozen prefix sees the same
images the same way reads one cache instead of recomputing it. :class:`FeatureStore` keeps it in
``DIR/<key hash>/``: ``key.json`` (what the hash covers: the data set's name and root, the train
and test transforms and their settings (image size, crops, normalisation), the number of views and
their seed, a SHA-256 of the frozen prefix's weights and buffers (so backbone, weights and frozen
stages), dtype and memory format) and ``train-*.pt`` / ``eval-*.pt`` chunks of
``{"items": [...], "features": [V, n, C_k, h, w]}``. Each image is looked up by its own key (path,
size and modification time, crop box; or the bytes of an in-memory image), so a fold whose training
set differs from another's computes only the images not yet cached and adds them as a new chunk.
A chunk is written to a temporary file in the same folder and renamed into place, so a reader
never sees half a chunk and two jobs filling the cache at once each add their own complete chunks
(an image cached twice is the same values: the first chunk in name order is used). A changed key
(another backbone, weights, frozen stages, image size, views, seed, dtype, data root) is another
folder: the cache is rebuilt, never mixed. With the on-disk cache, view ``v`` of an image is drawn
from a generator seeded by ``(view seed, image key, v)``, so it is the same whichever run, fold or
batch computes it (without it, views come from the run's random state, as before).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def item_key(split: Any, index: int) -> str:
    """What identifies image ``index`` of ``split``: a file's path, size and modification time
    (and crop box), or a SHA-1 of an in-memory image's bytes."""
    item = split.items[index]
    box = "" if split.bboxes is None else ",".join(f"{v:g}" for v in split.bboxes[index])
    if isinstance(item, np.ndarray):
        return "sha1:" + hashlib.sha1(np.ascontiguousarray(item).tobytes()).hexdigest() + box
    try:
        stat = os.stat(item)
        return f"{os.path.abspath(item)}|{stat.st_size}|{stat.st_mtime_ns}|{box}"
    except (OSError, TypeError):
        return f"{item}|{box}"


def weights_digest(module: nn.Module) -> str:
    """SHA-256 of ``module``'s parameters and buffers (names, shapes, values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def item_seed(seed: int, key: str, view: int) -> int:
    """The seed of view ``view`` of the image ``key``: 63 bits of SHA-256 of all three."""
    digest = hashlib.sha256(f"{seed}|{view}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class SeededView(Dataset):
    """Items ``indices`` of ``base``, each transformed under ``torch.manual_seed(item_seed(...))``
    (the global generators are restored after each item)."""

    def __init__(
        self, base: MetricDataset, indices: list[int], keys: list[str], view: int, seed: int
    ):
        self.base, self.indices, self.keys, self.view, self.seed = base, indices, keys, view, seed

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(item_seed(self.seed, self.keys[position], self.view))
            return self.base[self.indices[position]]


class FeatureStore:
    """The on-disk cache of one key (see the module docstring): ``root/<sha256(key)[:16]>/``.

    Args:
        root: the cache folder (``paths.feature_cache_dir``).
        key: JSON-serialisable description of everything that decides the features.
    """

    def __init__(self, root: str | os.PathLike, key: dict[str, Any]) -> None:
        text = json.dumps(key, sort_keys=True, default=str)
        self.key = key
        self.folder = Path(root) / hashlib.sha256(text.encode()).hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / "key.json").is_file():
            self._write(self.folder / "key.json", text.encode())

    def _write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def lookup(self, kind: str, keys: list[str]) -> tuple[dict[str, torch.Tensor], list[int]]:
        """``({key: [V, C_k, h, w]}, missing positions)`` of ``keys`` among the ``kind`` chunks."""
        wanted, found = set(keys), {}
        for chunk in sorted(self.folder.glob(f"{kind}-*.pt")):
            data = torch.load(chunk, map_location="cpu", weights_only=True)
            for position, key in enumerate(data["items"]):
                if key in wanted and key not in found:
                    found[key] = data["features"][:, position]
        return found, [i for i, key in enumerate(keys) if key not in found]

    def add(self, kind: str, keys: list[str], features: torch.Tensor) -> Path:
        """A new complete chunk ``kind-<uuid>.pt`` (temporary file, then renamed)."""
        import io

        buffer = io.BytesIO()
        torch.save({"items": list(keys), "features": features}, buffer)
        path = self.folder / f"{kind}-{uuid.uuid4().hex}.pt"
        self._write(path, buffer.getvalue())
        return path


def store_key(
    datamodule, prefix: nn.Module, views: int, dtype: str, channels_last: bool, seed: int
) -> dict:
    """Everything but the images that decides the cached features (see :class:`FeatureStore`)."""
    return {
        "version": 1,
        "data": datamodule.name,
        "root": None if datamodule.root is None else os.path.abspath(str(datamodule.root)),
        "train_transform": repr(datamodule.train_transform),
        "eval_transform": repr(datamodule.eval_transform),
        "channels": datamodule.channels,
        "views": int(views),
        "view_seed": int(seed),
        "prefix": type(prefix).__name__,
        "prefix_weights": weights_digest(prefix),
        "dtype": dtype,
        "channels_last": bool(channels_last),
    }


def stored_prefix_outputs(
    store: FeatureStore,
    kind: str,
    prefix: nn.Module,
    dataset: MetricDataset,
    views: int,
    seed: int,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    channels_last: bool,
    desc: str,
) -> tuple[torch.Tensor, int]:
    """:func:`prefix_outputs` through ``store``: ``([views, N, C_k, h, w], computed)``, only the
    images not cached yet computed (view ``v`` of image ``key`` seeded by ``(seed, key, v)``) and
    added as one chunk."""
    keys = [item_key(dataset.split, i) for i in range(len(dataset))]
    found, missing = store.lookup(kind, keys)
    if missing:
        passes = []
        for view in range(views):
            part = SeededView(dataset, missing, [keys[i] for i in missing], view, seed)
            passes.append(
                prefix_outputs(prefix, part, 1, batch_size, device, dtype, channels_last, desc)[0]
            )
        computed = torch.stack(passes)
        store.add(kind, [keys[i] for i in missing], computed)
        found |= {keys[i]: computed[:, j] for j, i in enumerate(missing)}
    return torch.stack([found[key] for key in keys], dim=1), len(missing)


def checked_prefix(backbone: nn.Module, views: int, dtype: str) -> nn.Module:
    """The backbone's frozen prefix, or a :class:`ConfigError` for a backbone without one or
    a dtype that is not a cache dtype."""
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
    return prefix


def split_features(
    prefix: nn.Module,
    data_name: str,
    key: str,
    dataset,
    count: int,
    store: FeatureStore | None,
    batch_size: int,
    device: torch.device,
    dtype: str,
    channels_last: bool,
) -> torch.Tensor:
    """The prefix's output ``[N, count, ...]`` for ``count`` view(s) of each item of one split,
    computed (or read from ``store``, computing only what it lacks), logged with its size."""
    start = time.perf_counter()
    args = (batch_size, device, DTYPES[dtype], channels_last)
    desc = f"caching {data_name}/{key}"
    if store is None:
        features = prefix_outputs(prefix, dataset, count, *args, desc)
    else:
        kind = "train" if key == "train" else "eval"
        features, computed = stored_prefix_outputs(
            store, kind, prefix, dataset, count, 0, *args, desc
        )
        log.info(
            "%s/%s: %d of %d images read from the feature cache %s",
            data_name,
            key,
            len(dataset) - computed,
            len(dataset),
            store.folder,
        )
    log.info(
        "%s/%s: cached the frozen prefix's output for %d view(s) x %d images, "
        "%s each, %.0f MB %s, in %.0f s",
        data_name,
        key,
        count,
        len(dataset),
        "x".join(map(str, features.shape[2:])),
        features.numel() * features.element_size() / 2**20,
        dtype,
        time.perf_counter() - start,
    )
    return features


@contextmanager
def frozen_feature_cache(
    model: nn.Module,
    datamodule,
    views: int,
    device: torch.device,
    dtype: str = "bfloat16",
    channels_last: bool = False,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    skip: tuple[str, ...] = (),
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
        cache_dir: keep the features in a :class:`FeatureStore` under this folder, shared with
            other runs (``None``: in memory only, views from the run's random state).
        skip: splits the run never reads (``("test",)`` for ``test=false``): left uncached.

    Yields the seconds the caching took. On exit the datasets and the model are as before (the
    model embeds images again).
    """
    prefix = checked_prefix(model.backbone, views, dtype)
    original = dict(datamodule.datasets)
    was_training, home = model.training, next(model.parameters()).device
    model.eval().to(device)
    cached: dict[int, FeatureDataset] = {}
    began = time.perf_counter()
    store = None
    if cache_dir is not None:
        store = FeatureStore(
            cache_dir, store_key(datamodule, prefix, views, dtype, channels_last, 0)
        )
    try:
        for key, dataset in original.items():
            if key in skip:
                continue
            if id(dataset) not in cached:
                count = views if key == "train" else 1
                args = (store, datamodule.eval_batch_size, device, dtype, channels_last)
                features = split_features(prefix, datamodule.name, key, dataset, count, *args)
                cached[id(dataset)] = FeatureDataset(dataset, features, seed)
            datamodule.datasets[key] = cached[id(dataset)]
        model.train(was_training).to(home)
        model.from_cut = True
        yield time.perf_counter() - began
    finally:
        model.from_cut = False
        datamodule.datasets.clear()
        datamodule.datasets.update(original)
