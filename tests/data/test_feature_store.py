"""The on-disk frozen-feature cache: keyed, shared by runs, filled by two jobs at once, rebuilt."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.transforms import functional as TF

from metriclab.data.base import Split
from metriclab.data.dataset import MetricDataset
from metriclab.data.feature_cache import FeatureStore, stored_prefix_outputs

CPU = torch.device("cpu")


def noisy(image):
    """A training transform with randomness (as a random crop has)."""
    return TF.to_tensor(image) + torch.rand(1, 6, 6)


def dataset(indices) -> MetricDataset:
    images = np.stack([np.full((6, 6), i * 10, dtype=np.uint8) for i in range(20)])
    split = Split(images, np.arange(20) // 2).subset(np.asarray(indices))
    return MetricDataset(split, split.labels, noisy, channels=1)


def prefix(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Conv2d(1, 2, 3).eval()


def fill(store, data, net, views=2):
    return stored_prefix_outputs(
        store, "train", net, data, views, 0, 4, CPU, torch.float32, False, "test"
    )


def test_second_run_reads_everything_and_a_fold_computes_only_new_images(tmp_path):
    store = FeatureStore(tmp_path, {"prefix": "a"})
    first, computed = fill(store, dataset(range(10)), prefix())
    assert first.shape == (2, 10, 2, 4, 4) and computed == 10
    again, computed = fill(FeatureStore(tmp_path, {"prefix": "a"}), dataset(range(10)), prefix())
    assert computed == 0 and torch.equal(again, first)
    other_fold, computed = fill(store, dataset(range(5, 15)), prefix())
    assert computed == 5  # images 5-9 were cached by the first fold
    # view v of an image is the same whichever run (and batch) computed it
    assert torch.equal(other_fold[:, :5], first[:, 5:])
    assert not torch.equal(first[0], first[1])  # two views differ
    fresh, _ = fill(
        FeatureStore(tmp_path / "fresh", {"prefix": "a"}), dataset(range(5, 15)), prefix()
    )
    assert torch.allclose(fresh, other_fold)


def test_a_changed_key_rebuilds(tmp_path):
    fill(FeatureStore(tmp_path, {"prefix": "a", "views": 2}), dataset(range(4)), prefix())
    _, computed = fill(
        FeatureStore(tmp_path, {"prefix": "a", "views": 3}), dataset(range(4)), prefix(), 3
    )
    assert computed == 4
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def job(root: str, indices: list[int], barrier) -> None:
    torch.set_num_threads(1)
    store = FeatureStore(root, {"prefix": "a"})
    barrier.wait()  # both jobs look up an empty cache, then fill it
    fill(store, dataset(indices), prefix())


def test_two_jobs_filling_at_once_leave_complete_chunks(tmp_path):
    context = mp.get_context("fork")
    barrier = context.Barrier(2)
    jobs = [
        context.Process(target=job, args=(str(tmp_path), list(range(12)), barrier)),
        context.Process(target=job, args=(str(tmp_path), list(range(6, 18)), barrier)),
    ]
    for p in jobs:
        p.start()
    for p in jobs:
        p.join(60)
        assert p.exitcode == 0
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert not list(folder.glob(".*.tmp"))  # no half-written file left
    assert len(list(folder.glob("train-*.pt"))) == 2  # each job added its own chunk
    store = FeatureStore(tmp_path, {"prefix": "a"})
    read, computed = fill(store, dataset(range(18)), prefix())
    assert computed == 0  # every image was cached by one job or the other
    alone, _ = fill(FeatureStore(tmp_path / "alone", {"prefix": "a"}), dataset(range(18)), prefix())
    assert torch.allclose(read, alone)


@pytest.mark.slow
def test_runs_of_a_sweep_share_the_cache(make_cfg, tmp_path):
    from metriclab.pipeline.training import train

    cache = tmp_path / "cache"
    common = [  # 16 tiny glyph classes as RGB through Lite0's first 5 stages
        "data.reader.classes=16",
        "data.reader.train_classes=8",
        "data.reader.samples_per_class=6",
        "data.channels=3",
        "data.mean=[0.13,0.13,0.13]",
        "data.std=[0.26,0.26,0.26]",
        "data.image_size=32",
        "data.batch_size=16",
        "data.val_classes=2",
        "backbone=efficientnet_lite0",
        "backbone.frozen_stages=5",  # the ImageNet weights: the same prefix in every run
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.accelerator=cpu",
        "callbacks.progress_bar=null",
        "callbacks.dashboards=null",
        "module.speed.frozen_feature_cache=2",
        "test_untrained=false",
        "logger=csv",
        f"paths.feature_cache_dir={cache}",
    ]
    chunks = []
    for i, (loss, seed) in enumerate((("circle", 0), ("contrastive", 1))):
        train(make_cfg(*common, f"loss={loss}", f"seed={seed}", tiny=False))
        (tmp_path / "run").rename(tmp_path / f"run{i}")
        chunks.append(sorted(p.name for p in cache.rglob("*.pt")))
    assert len(chunks[0]) == 3  # train views, validation and test images: a chunk each
    assert chunks[1] == chunks[0]  # the run of another loss and seed computed nothing new
