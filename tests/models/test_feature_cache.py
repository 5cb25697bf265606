"""``module.speed.frozen_feature_cache``: the frozen prefix runs once per cached view, training runs
from the cut, and the result is the network it would be without the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import one_error_line, run_train
from eval_reference import reference_metrics

from metriclab.data.dataset import MetricDataset
from metriclab.data.feature_cache import FeatureDataset
from metriclab.models.efficientnet_lite import EfficientNetLite, _Prefix
from metriclab.pipeline.training import train

# digits through an untrained Lite0 with stages 1-5 frozen, 2 training batches per epoch
CACHED_DIGITS = (
    "data=digits",
    "backbone=efficientnet_lite0",
    "backbone.pretrained=false",
    "backbone.frozen_stages=5",
    "data.image_size=32",
    "data.batch_size=32",
    "trainer.limit_train_batches=2",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
    "callbacks.dashboards=null",
)


@pytest.mark.parametrize("frozen", [1, 4, 6])
def test_prefix_then_rest_is_the_whole_network(frozen: int) -> None:
    torch.manual_seed(0)
    net = EfficientNetLite(0, pretrained=False, frozen_stages=frozen).eval()
    images = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        whole = net(images)
        cut = net.frozen_prefix()(images)
        assert torch.allclose(net.forward_from_cut(cut), whole, atol=1e-5)
    assert cut.shape[0] == 2 and cut.shape[1] < 1280
    assert not list(net.frozen_prefix().parameters())  # shares the network's, owns none
    assert EfficientNetLite(0, pretrained=False).frozen_prefix() is None


def test_feature_dataset_draws_every_view_and_keeps_labels() -> None:
    class Split:
        items = labels = None

    base = MetricDataset.__new__(MetricDataset)
    base.labels, base.split, base.image = np.array([0, 1, 1]), Split(), lambda i: i
    features = torch.arange(2 * 3, dtype=torch.bfloat16).reshape(2, 3, 1, 1, 1)  # view v, item i
    data = FeatureDataset(base, features, seed=0)
    seen = {float(data[1][0]) for _ in range(40)}
    assert seen == {1.0, 4.0}  # item 1 of view 0 and of view 1
    assert data[2][1:] == (1, 2) and data[0][0].dtype == torch.float32
    assert len(data) == 3 and data.num_classes == 2


def count_calls(monkeypatch, **targets: tuple[type, str]) -> dict[str, int]:
    """How often each ``(class, method name)`` of ``targets`` is called while the test runs."""
    calls = dict.fromkeys(targets, 0)
    for key, (cls, name) in targets.items():
        original = getattr(cls, name)

        def counted(self, x, _original=original, _key=key):
            calls[_key] += 1
            return _original(self, x)

        monkeypatch.setattr(cls, name, counted)
    return calls


def test_training_runs_from_the_cut(make_cfg, monkeypatch) -> None:
    calls = count_calls(
        monkeypatch,
        prefix=(_Prefix, "forward"),
        rest=(EfficientNetLite, "forward_from_cut"),
        whole=(EfficientNetLite, "forward"),
    )
    cfg = make_cfg(
        *CACHED_DIGITS,
        "trainer.max_epochs=2",
        "module.speed.frozen_feature_cache=3",
        "test_untrained=false",
        tiny=False,
    )
    metrics, objects = train(cfg)
    datamodule = objects["datamodule"]
    loaders = {k: len(datamodule.eval_dataloader(k)) for k in ("train", "val", "test")}
    assert calls["prefix"] == 3 * loaders["train"] + loaders["val"] + loaders["test"]
    assert calls["whole"] == 0  # neither training nor evaluation ran the frozen stages again
    assert calls["rest"] >= 2 * 2 + loaders["test"]
    assert metrics["feature_cache_s"] > 0
    run_dir = Path(objects["cfg"].paths.output_dir)  # the test metrics, recomputed by a loop
    emb, labels = np.load(run_dir / "test_embeddings.npy"), np.load(run_dir / "test_labels.npy")
    assert metrics["test/map@r"] == pytest.approx(reference_metrics(emb, labels)["map@r"], abs=1e-4)
    model = objects["module"].model  # afterwards: images in, as before
    assert not model.from_cut
    assert all(isinstance(d, MetricDataset) for d in datamodule.datasets.values())


def test_a_run_without_a_test_leaves_the_test_split_uncached(make_cfg, monkeypatch) -> None:
    """``test=false`` (a search on validation folds): the frozen prefix never sees a test image."""
    calls = count_calls(monkeypatch, prefix=(_Prefix, "forward"))
    cfg = make_cfg(
        *CACHED_DIGITS,
        "trainer.max_epochs=1",
        "module.speed.frozen_feature_cache=2",
        "test=false",
        tiny=False,
    )
    metrics, objects = train(cfg)
    datamodule = objects["datamodule"]
    loaders = {k: len(datamodule.eval_dataloader(k)) for k in ("train", "val")}
    assert calls["prefix"] == 2 * loaders["train"] + loaders["val"]
    assert metrics["feature_cache_s"] > 0 and "test/map@r" not in metrics


def test_cache_without_a_frozen_prefix_is_one_error_line(tmp_path) -> None:
    result = run_train(
        "data=digits",
        "module.speed.frozen_feature_cache=2",
        "trainer.max_epochs=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    line = one_error_line(result)
    assert "module.speed.frozen_feature_cache=2" in line and "frozen_stages" in line, line


def test_cars_recipe_runs_through_the_cache_from_the_cli(tmp_path) -> None:
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
    import fixtures

    root = fixtures.make_cars_annos(tmp_path / "data", per_class=4)
    run_dir = tmp_path / "run"
    result = run_train(
        "experiment=cars_lite0",
        f"data.root={root}",
        "data.image_size=64",
        "data.batch_size=6",
        "trainer.max_epochs=1",
        "logger=csv",
        "callbacks.progress_bar=null",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cars/train: cached the frozen prefix's output for 3 view(s)" in result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["feature_cache_s"] > 0
    emb, labels = np.load(run_dir / "test_embeddings.npy"), np.load(run_dir / "test_labels.npy")
    want = reference_metrics(emb, labels)  # the test metrics, recomputed by a loop
    assert metrics["test/recall@1"] == pytest.approx(want["recall@1"], abs=1e-4)
    assert (run_dir / "metrics_untrained.json").is_file()
