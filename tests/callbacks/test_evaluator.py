"""``callbacks.evaluator``: the metrics every run reports, equal to a brute-force recount; a run
without the evaluator is refused."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from config_helpers import ROOT, TINY, compose_config, refused
from omegaconf import OmegaConf

from metriclab.pipeline import train


def test_recognition_metrics_when_asked(make_cfg, tmp_path) -> None:
    import torch

    from metriclab.recognition.metrics import recognition_metrics

    metrics, objects = train(make_cfg("callbacks.evaluator.recognition=true"))
    emb, labels, _ = objects["evaluator"].gathered[0]  # the test embeddings, in dataset order
    module, dataset = objects["module"].eval(), objects["datamodule"].datasets["test"]
    with torch.no_grad():  # they are the trained model's, on the test images
        by_hand = module(torch.stack([dataset[i][0] for i in range(len(dataset))])).numpy()
    np.testing.assert_allclose(emb, by_hand, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(labels, dataset.labels)
    # every recognition key of the protocol (its own tests: tests/recognition), run's seed
    expected, _ = recognition_metrics(emb, labels, seed=objects["cfg"].seed)
    assert {"closed/knn_acc@1", "closed/centroid_acc@all", "openset/knn_auroc"} <= set(expected)
    assert {k: metrics[f"test/{k}"] for k in expected} == pytest.approx(expected)
    plain, _ = train(compose_config(list(TINY), tmp_path / "plain"))  # a run of its own
    assert not any("closed/" in k or "openset/" in k for k in plain)
    assert OmegaConf.select(make_cfg(), "callbacks.evaluator.recognition") is False  # when asked


def brute_force_recall_at_1(emb: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out Recall@1 by cosine, one query at a time."""
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    hits = 0
    for i in range(len(x)):
        sims = x @ x[i]
        sims[i] = -np.inf
        hits += labels[int(np.argmax(sims))] == labels[i]
    return hits / len(x)


def test_test_recall_equals_a_brute_force_recount(make_cfg) -> None:
    metrics, objects = train(make_cfg())
    emb, labels, _ = objects["evaluator"].gathered[0]  # the test embeddings, in dataset order
    emb, labels = np.asarray(emb, dtype=np.float64), np.asarray(labels)
    assert metrics["test/recall@1"] == pytest.approx(brute_force_recall_at_1(emb, labels))
    assert set(metrics) >= {f"test/recall@{k}" for k in (1, 2, 4, 8)} | {"test/map@r"}


def test_a_run_without_the_evaluator_is_refused(make_cfg, capsys) -> None:
    line = refused(make_cfg("callbacks.evaluator=null"), capsys)
    assert "callbacks.evaluator" in line and "keep callbacks.evaluator" in line


def test_flip_embedding_is_the_normalised_mean_of_the_two_passes() -> None:
    import torch
    import torch.nn.functional as F

    from metriclab.callbacks.evaluator import RetrievalEvaluator

    torch.manual_seed(0)
    layer = torch.nn.Linear(3 * 4 * 5, 6)

    def model(x: torch.Tensor) -> torch.Tensor:
        return F.normalize(layer(x.flatten(1)), dim=1)

    images = torch.randn(7, 3, 4, 5)
    with torch.no_grad():
        plain, mirrored = model(images), model(images.flip(-1))  # mirrored: W reversed
        by_hand = (plain + mirrored) / 2
        by_hand = by_hand / by_hand.norm(dim=1, keepdim=True)
    evaluator = RetrievalEvaluator(flip=True)
    got = evaluator.embed(model, images, torch.arange(7), dataset=None)
    torch.testing.assert_close(got, by_hand)
    assert not torch.allclose(got, plain, atol=1e-3)  # the mirror changes the embedding
    torch.testing.assert_close(RetrievalEvaluator().embed(model, images, None, None), plain)


def test_flip_through_the_frozen_feature_cache_equals_flip_on_images() -> None:
    """Under the cache the evaluated inputs are the frozen stages' output of the unmirrored
    images; the evaluator runs the frozen stages on the mirrored images: same embeddings."""
    import numpy as np
    import torch

    from metriclab.callbacks.evaluator import RetrievalEvaluator
    from metriclab.data.base import Split
    from metriclab.data.dataset import MetricDataset
    from metriclab.data.feature_cache import FeatureDataset, prefix_outputs
    from metriclab.data.transforms import build_transform
    from metriclab.models import EfficientNetLite, EmbeddingHead, EmbeddingModel

    torch.manual_seed(0)
    backbone = EfficientNetLite(pretrained=False, frozen_stages=2)
    model = EmbeddingModel(backbone, EmbeddingHead(1280, 16)).eval()
    pixels = np.random.default_rng(0).integers(0, 256, (6, 40, 64, 3), dtype=np.uint8)
    split = Split(items=pixels, labels=np.arange(6) % 3)
    transform = build_transform(train=False, image_size=32, resize_size=40, resize="square")
    dataset = MetricDataset(split, np.arange(6) % 3, transform, 3)
    images = torch.stack([dataset[i][0] for i in range(6)])
    prefix = backbone.frozen_prefix()
    cut = prefix_outputs(prefix, dataset, 1, 4, torch.device("cpu"), torch.float32)
    cached = FeatureDataset(dataset, cut)
    evaluator, indices = RetrievalEvaluator(flip=True), torch.arange(6)
    with torch.no_grad():
        expected = evaluator.embed(model, images, indices, dataset)
        model.from_cut = True
        got = evaluator.embed(model, cut[0], indices, cached)
        again = evaluator.embed(model, cut[0, 3:], indices[3:], cached)  # the cut is kept
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(again, expected[3:], rtol=1e-4, atol=1e-5)


def test_a_run_with_flip_scores_the_flip_averaged_test_embeddings(make_cfg) -> None:
    import torch
    import torch.nn.functional as F

    metrics, objects = train(make_cfg("callbacks.evaluator.flip=true"))
    emb, labels, _ = objects["evaluator"].gathered[0]
    module, dataset = objects["module"].eval(), objects["datamodule"].datasets["test"]
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.no_grad():
        by_hand = F.normalize(module(images) + module(images.flip(-1)), dim=1).numpy()
    np.testing.assert_allclose(emb, by_hand, rtol=1e-4, atol=1e-5)
    assert metrics["test/recall@1"] == pytest.approx(brute_force_recall_at_1(emb, labels))


@pytest.mark.slow  # two commands in subprocesses: about 20 s of CPU
def test_flip_on_the_command_line_and_in_eval_py(tmp_path) -> None:
    from config_helpers import TINY, run_train

    # the command line: the run finishes and its saved config records the choice
    result = run_train(
        *TINY, "callbacks.evaluator.flip=true", f"hydra.run.dir={tmp_path}/cli", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    saved = OmegaConf.load(tmp_path / "cli" / ".hydra" / "config.yaml")
    assert saved.callbacks.evaluator.flip is True
    trained = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    # scripts/eval.py of that run flips too: the run's own test metrics again
    script = [sys.executable, str(ROOT / "scripts" / "eval.py"), f"ckpt_path={tmp_path}/cli"]
    evaluated = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    (found,) = (tmp_path / "cli" / "eval").glob("*/metrics.json")
    again = json.loads(found.read_text())
    assert again["test/recall@1"] == pytest.approx(trained["test/recall@1"], abs=1e-6)
    assert again["test/map@r"] == pytest.approx(trained["test/map@r"], abs=1e-4)


def test_flip_under_the_frozen_feature_cache_in_a_run(make_cfg, tmp_path) -> None:
    """A training run through the frozen-feature cache, with the concatenated Lite backbone and
    wide photos squashed square: its flip-averaged test embeddings are those of the trained
    model on the images and their mirrors."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(8):
        (tmp_path / "photos" / f"class{c}").mkdir(parents=True)
        base = rng.integers(0, 256, (3, 3, 3))
        for i in range(4):
            noisy = np.kron(base, np.ones((16, 32, 1))) + rng.normal(0, 30, (48, 96, 3))
            image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
            image.save(tmp_path / "photos" / f"class{c}" / f"{i}.png")
    cfg = make_cfg(
        "data=folder",
        f"data.root={tmp_path / 'photos'}",
        "data.image_size=32",
        "data.num_workers=0",
        "data.batch_size=8",
        "data.val_classes=0",
        "sampler=random",
        "backbone=efficientnet_lite_concat",
        "backbone.pretrained=false",
        "backbone.frozen_stages=2",
        "backbone.variants=[0]",
        "head.embedding_size=16",
        "module.speed.frozen_feature_cache=2",
        "module.speed.frozen_feature_dtype=float32",
        "callbacks.evaluator.flip=true",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "callbacks.progress_bar=null",
        "callbacks.dashboards=null",
        "optimized_metric=val/recall@1",
        tiny=False,
    )
    assert cfg.data.resize == "square"  # data=folder: photos of any shape, squashed whole
    metrics, objects = train(cfg)
    emb, _, _ = objects["evaluator"].gathered[0]
    module, dataset = objects["module"].eval(), objects["datamodule"].datasets["test"]
    assert not module.model.from_cut  # the cache is gone after the run; images again
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.no_grad():
        by_hand = F.normalize(module(images) + module(images.flip(-1)), dim=1).numpy()
    np.testing.assert_allclose(emb, by_hand, rtol=1e-3, atol=1e-4)
    assert "feature_cache_s" in metrics
    assert 0.0 <= objects["untrained"]["test/recall@1"] <= 1.0  # the untrained column flips too


def test_the_evaluator_scores_the_matryoshka_prefixes_unless_told(make_cfg) -> None:
    from metriclab.build import build_evaluator, build_loss

    cfg = make_cfg("loss=matryoshka", "loss.dims=[8,16]")
    loss = build_loss(cfg, num_classes=10, embedding_size=32)
    assert build_evaluator(cfg, loss).prefix_dims == (8, 16)  # the full 32 is scored anyway
    assert build_evaluator(make_cfg(), build_loss(make_cfg(), 10, 32)).prefix_dims == ()
    told = make_cfg("loss=matryoshka", "callbacks.evaluator.prefix_dims=[4]")
    assert build_evaluator(told, build_loss(told, 10, 32)).prefix_dims == (4,)
