"""The datamodule on official-format fixtures: the image cache, broken images, small classes."""

from __future__ import annotations

import logging
from collections import Counter
from functools import partial

import fixtures
import numpy as np
import pytest
import torch

import metriclab.data.dataset as dataset_module
from metriclab.data import MetricDataModule, MPerClassSampler
from metriclab.data.cache import ImageCache
from metriclab.data.images import UnreadableImageError
from metriclab.data.readers import read_cub


def cub_module(root, **kwargs) -> MetricDataModule:
    """A CUB datamodule on the fixture: train classes 1, 2 (val 3, 100), test 101, 102, 200."""
    args = dict(name="cub", root=str(root), batch_size=4, image_size=16, val_classes=2)
    args |= dict(sampler=partial(MPerClassSampler, m=2)) | kwargs
    return MetricDataModule(reader=partial(read_cub), **args)


@pytest.fixture
def cub_root(tmp_path):
    base = fixtures.make_cub(tmp_path, per_class=3)
    for i, path in enumerate(sorted((base / "images").rglob("*.jpg"))):  # photo-like content
        pixels = np.random.default_rng(i).integers(0, 256, (30, 40, 3), dtype=np.uint8)
        fixtures.Image.fromarray(pixels).save(path)
    return base


def test_cache_decodes_once_and_keeps_random_crops(cub_root, monkeypatch):
    plain, cached = cub_module(cub_root), cub_module(cub_root, cache_images=True)
    plain.setup(), cached.setup()
    for key, dataset in cached.datasets.items():
        assert isinstance(dataset.split.items, ImageCache), key
        assert len(dataset) == len(plain.datasets[key])
        assert np.array_equal(dataset.labels, plain.datasets[key].labels)
    image = cached.datasets["test"].split.items[0]
    assert image.shape == (18, 24, 3) and image.dtype == np.uint8  # 40x30 -> shorter side 18
    decoded = [plain.datasets["test"][i][0] for i in range(len(plain.datasets["test"]))]
    monkeypatch.setattr(dataset_module, "load_image", None)  # no file is decoded any more
    for i, a in enumerate(decoded):  # test images: equal to decoding each time
        assert torch.allclose(a, cached.datasets["test"][i][0], atol=0.05), i
    train = cached.datasets["train"]
    torch.manual_seed(0)
    crops = [train[0][0] for _ in range(4)]
    assert tuple(crops[0].shape) == (3, 16, 16)
    assert any(not torch.equal(crops[0], c) for c in crops[1:])  # crops differ per draw
    assert sum(len(b[0]) for b in cached.train_dataloader()) == len(train) // 4 * 4


def test_broken_image_is_named_or_skipped_and_counted(cub_root, caplog):
    broken = sorted((cub_root / "images").rglob("*.jpg"))[0]  # class 1: a training image
    broken.write_bytes(broken.read_bytes()[:200])
    for cache in (False, True):  # checked up front either way: by header, or as the cache decodes
        with pytest.raises(UnreadableImageError) as info:
            cub_module(cub_root, cache_images=cache).setup()
        message = str(info.value)
        assert "\n" not in message and str(broken) in message and "skip_unreadable" in message
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="metriclab.data"):
            datamodule = cub_module(cub_root, cache_images=cache, skip_unreadable=True)
            datamodule.setup()
        assert len(datamodule.datasets["train"]) == 5, cache  # 2 classes x 3 images, minus one
        assert any("skipped 1 unreadable image(s)" in m for m in caplog.messages), cache
        assert np.unique(datamodule.datasets["train"].labels).tolist() == [0, 1]


def test_class_with_fewer_images_than_m_is_sampled_with_replacement(cub_root, caplog):
    with caplog.at_level(logging.WARNING, logger="metriclab.data"):
        datamodule = cub_module(cub_root, batch_size=8, sampler=partial(MPerClassSampler, m=4))
        datamodule.setup()
    assert "2 of 2 classes have fewer than m=4 items and are sampled with replacement" in (
        caplog.text
    )
    for _, labels, indices in datamodule.train_dataloader():
        assert Counter(labels.tolist()) == {0: 4, 1: 4}
        assert len(set(indices.tolist())) < len(indices)  # repeats: with replacement


def test_validation_on_test_split_and_labels_per_split(cub_root):
    datamodule = cub_module(cub_root, val_on_test=True)
    datamodule.setup()
    assert set(datamodule.datasets) == {"train", "val", "test"}
    assert datamodule.num_classes == 4 and datamodule.datasets["val"].num_classes == 3
    assert np.array_equal(datamodule.datasets["val"].labels, datamodule.datasets["test"].labels)
    assert sorted(set(datamodule.datasets["test"].labels.tolist())) == [0, 1, 2]
    assert "validation on the test split" in datamodule.describe()


def test_loader_workers_are_capped_at_the_usable_cores(cub_root, monkeypatch, caplog):
    import metriclab.data.datamodule as datamodule_module

    monkeypatch.setattr(
        datamodule_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False
    )
    assert datamodule_module.usable_workers(0) == 0
    assert datamodule_module.usable_workers(2) == 2
    with caplog.at_level(logging.INFO, logger="metriclab.data"):
        module = cub_module(cub_root, num_workers=8)
    module.setup()
    loader = module.eval_dataloader("test")
    assert loader.num_workers == 2
    assert "data.num_workers=8 capped at the 2 CPU cores" in caplog.text


def test_inshop_validates_on_the_test_split_query_to_gallery(tmp_path):
    """``val_on_test`` on a query/gallery set ranks the gallery for each query, as testing does
    (a real ``Trainer.validate`` and ``Trainer.test`` of one model give the same metrics)."""
    import pytorch_lightning as pl

    from metriclab.callbacks.evaluator import RetrievalEvaluator
    from metriclab.data.readers import read_inshop
    from metriclab.models import EmbeddingHead, EmbeddingModel, SmallCNN
    from metriclab.pipeline import MetricLearningModule

    root = fixtures.make_inshop(tmp_path)
    datamodule = MetricDataModule(
        reader=partial(read_inshop), name="inshop", root=str(root), batch_size=4,
        image_size=16, val_on_test=True, sampler=partial(MPerClassSampler, m=2),
    )  # fmt: skip
    datamodule.setup()
    assert datamodule.val_splits == ["query", "gallery"]
    loaders = datamodule.val_dataloader()
    assert [loader.dataset for loader in loaders] == [
        datamodule.datasets["query"],
        datamodule.datasets["gallery"],
    ]
    torch.manual_seed(0)
    backbone = SmallCNN(in_channels=3, width=8, depth=2, image_size=16)
    model = EmbeddingModel(backbone, EmbeddingHead(backbone.num_features, embedding_size=8))
    module = MetricLearningModule(model, loss=torch.nn.Identity(), optimizer=None)
    evaluator = RetrievalEvaluator(nmi_on_test=False)
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, callbacks=[evaluator], enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.validate(module, datamodule=datamodule, verbose=False)
    trainer.test(module, datamodule=datamodule, verbose=False)
    val, test = evaluator.results["val"], evaluator.results["test"]
    assert {k.split("/")[1]: v for k, v in val.items()} == {
        k.split("/")[1]: v for k, v in test.items()
    }
