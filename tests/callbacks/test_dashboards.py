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

from metriclab.callbacks.dashboards import RetrievalDashboard, grid_caption_size
from metriclab.callbacks.evaluator import RetrievalEvaluator
from metriclab.pictures.sheets import GREEN, RED
from metriclab.pictures.similarity import NEGATIVE, POSITIVE


def events(log_dir: Path) -> EventAccumulator:
    return EventAccumulator(str(log_dir), size_guidance={"images": 0, "histograms": 0}).Reload()


def decoded(event) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))


def test_grid_and_histograms_each_validation(digits_run: Path) -> None:
    acc = events(digits_run / "tensorboard")
    tags = acc.Tags()
    assert {"val/retrieval", "val/similarity"} <= set(tags["images"])
    assert {"val/similarity_positive", "val/similarity_negative"} <= set(tags["histograms"])
    grids = acc.Images("val/retrieval")
    assert len(grids) == 2  # two epochs, two validations (the sanity check logs nothing)
    image = decoded(grids[-1])
    tile = 64 + 2 * 3  # thumbnail_size=64 in a 3-pixel frame
    caption = 2 + 2 * (grid_caption_size(64) + 3)  # two lines: "rank · similarity", "class c"
    assert grid_caption_size(64) >= 17  # about 11 px once TensorBoard fits the grid to its card
    row = tile + caption
    assert image.shape[1] == 6 * tile + 5 * 4 + 12  # the query + 5 neighbours per row
    assert image.shape[0] > 8 * row + 7 * 4  # 8 query rows, then the legend
    colours = {
        tuple(image[r * (row + 4) + 1, 12 + c * (tile + 4) + 1])
        for r in range(8)
        for c in range(1, 6)
    }
    assert colours <= {GREEN, RED} and GREEN in colours  # every neighbour framed, some right
    under = image[tile + 2 : row, 12 + tile + 4 : 12 + 2 * tile + 4]  # the first caption
    assert (under < 100).any()  # dark text under the tile
    positive = acc.Histograms("val/similarity_positive")[-1].histogram_value
    negative = acc.Histograms("val/similarity_negative")[-1].histogram_value
    n_val = 183 + 181  # the digits 3 and 4
    assert positive.num + negative.num == n_val * (n_val - 1) // 2
    assert positive.sum / positive.num > negative.sum / negative.num  # it learned something


def test_one_overlaid_similarity_chart_per_validation(digits_run: Path) -> None:
    charts = events(digits_run / "tensorboard").Images("val/similarity")
    assert len(charts) == 2
    chart = decoded(charts[-1])
    assert chart.shape[0] >= 300 and chart.shape[1] >= 500
    pixels = chart.reshape(-1, 3).astype(int)
    for colour in (POSITIVE, NEGATIVE):  # both distributions drawn on the one axis
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(1) < 30).any(), colour


def test_steps_agree_across_tabs_and_no_epoch_card(digits_run: Path) -> None:
    acc = events(digits_run / "tensorboard")
    scalars = {e.step for e in acc.Scalars("val/recall@1")}
    assert scalars == {e.step for e in acc.Images("val/retrieval")}
    assert scalars == {e.step for e in acc.Images("val/similarity")}
    assert scalars == {e.step for e in acc.Histograms("val/similarity_positive")}
    assert scalars == {3, 6}  # trainer.global_step after each epoch of 3 batches
    assert "epoch" not in acc.Tags()["scalars"]
    layout = acc.PluginTagToContent("custom_scalars")
    assert layout  # the CUSTOM SCALARS tab: train, val, test charts


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
        current_epoch=0,
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
