"""The TensorBoard dashboards of a digits run, read back from its event files."""

from __future__ import annotations

import io
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from pytorch_lightning.loggers import CSVLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from metriclab.pipeline import RetrievalEvaluator
from metriclab.pipeline.dashboards import RetrievalDashboard
from metriclab.serving.render import GREEN, RED


def events(log_dir: Path) -> EventAccumulator:
    return EventAccumulator(str(log_dir), size_guidance={"images": 0}).Reload()


def test_grid_and_histograms_each_validation(digits_run: Path) -> None:
    acc = events(digits_run / "tensorboard")
    tags = acc.Tags()
    assert "val/retrieval" in tags["images"]
    assert {"val/similarity_positive", "val/similarity_negative"} <= set(tags["histograms"])
    grids = acc.Images("val/retrieval")
    assert len(grids) == 2  # two epochs, two validations (the sanity check logs nothing)
    image = np.asarray(Image.open(io.BytesIO(grids[-1].encoded_image_string)).convert("RGB"))
    tile = 48 + 2 * 3
    assert image.shape == (8 * tile + 7 * 4, 6 * tile + 5 * 4 + 12, 3)  # 8 queries x (1 + 5)
    colours = {
        tuple(image[r * (tile + 4) + 1, 12 + c * (tile + 4) + 1])
        for r in range(8)
        for c in range(1, 6)
    }
    assert colours <= {GREEN, RED} and GREEN in colours  # every neighbour framed, some right
    positive = acc.Histograms("val/similarity_positive")[-1].histogram_value
    negative = acc.Histograms("val/similarity_negative")[-1].histogram_value
    n_val = 183 + 181  # the digits 3 and 4
    assert positive.num + negative.num == n_val * (n_val - 1) // 2
    assert positive.sum / positive.num > negative.sum / negative.num  # it learned something


def test_projector_at_the_end(digits_run: Path) -> None:
    config = (digits_run / "tensorboard" / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "val_embeddings' in config and "sprite" in config
    tensors = next((digits_run / "tensorboard").rglob("tensors.tsv"))
    assert len(tensors.read_text().splitlines()) == 100  # projector_items=100
    assert len((tensors.parent / "metadata.tsv").read_text().splitlines()) == 100


def fake_trainer(loggers: list, evaluator: RetrievalEvaluator, dataset) -> SimpleNamespace:
    return SimpleNamespace(
        is_global_zero=True,
        sanity_checking=False,
        loggers=loggers,
        callbacks=[evaluator],
        datamodule=SimpleNamespace(datasets={"val": dataset}),
        global_step=7,
    )


class Dataset:
    def image(self, index: int) -> Image.Image:
        return Image.fromarray(np.full((8, 8), index % 255, dtype=np.uint8))


def test_nothing_without_tensorboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluator = RetrievalEvaluator()
    evaluator.gathered[0] = (np.eye(4, dtype=np.float32), np.arange(4) % 2, np.arange(4))
    dashboard = RetrievalDashboard()
    monkeypatch.setattr(dashboard, "retrieval_grid", lambda *a: pytest.fail("drew a grid"))
    trainer = fake_trainer([CSVLogger(tmp_path)], evaluator, Dataset())
    dashboard.on_validation_end(trainer, None)
    dashboard.on_fit_end(trainer, None)
    assert dashboard._last is None


def test_cheap_on_a_validation_split(tmp_path: Path) -> None:
    from pytorch_lightning.loggers import TensorBoardLogger

    rng = np.random.default_rng(0)
    evaluator = RetrievalEvaluator()
    x = rng.standard_normal((1000, 64)).astype(np.float32)
    evaluator.gathered[0] = (x, rng.integers(0, 20, 1000), np.arange(1000))
    logger = TensorBoardLogger(tmp_path, name="tb", version="")
    dashboard = RetrievalDashboard()
    start = time.process_time()
    dashboard.on_validation_end(fake_trainer([logger], evaluator, Dataset()), None)
    assert time.process_time() - start < 2.0  # CPU seconds (a few hundred ms unloaded)
    logger.experiment.flush()
    tags = events(tmp_path / "tb").Tags()
    assert "val/retrieval" in tags["images"] and "val/similarity_negative" in tags["histograms"]
