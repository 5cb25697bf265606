"""TensorBoard dashboards of retrieval: what the model retrieves, how similarities separate.

:class:`RetrievalDashboard` reads the validation embeddings that
:class:`~metriclab.callbacks.evaluator.RetrievalEvaluator` gathered (``evaluator.gathered``) and,
after each validation, logs to every TensorBoard logger of the trainer, at ``trainer.global_step``
(the step of the validation scalars too, so the tabs agree):

- ``val/retrieval`` (IMAGES): one row per sample query (the same queries every epoch): the query,
  then its ``top_k`` nearest validation items (self excluded), framed green when they share the
  query's label and red when not, each captioned ``rank · similarity`` and ``class``, the query
  ``query`` and its class; a legend under the grid;
- ``val/similarity`` (IMAGES): the histograms of the cosine similarities of same-label and
  different-label pairs (among up to ``histogram_items`` items) overlaid on one axis, with the
  separation margin (see :mod:`metriclab.pictures.similarity`);
- ``val/similarity_positive`` / ``val/similarity_negative`` (HISTOGRAMS): the same two
  distributions over the epochs;

and at the end of fitting the embedding projector (``val_embeddings``): up to ``projector_items``
embeddings with their labels and image thumbnails. Without a TensorBoard logger it does nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger

from metriclab.callbacks.evaluator import RetrievalEvaluator
from metriclab.pictures.sheets import (
    BLUE,
    LEGEND,
    captioned,
    framed,
    grid,
    hit_color,
    legend,
    thumbnail,
    tile_captions,
)
from metriclab.pictures.similarity import similarity_chart
from metriclab.search.inputs import unit_rows


def grid_caption_size(thumbnail_size: int) -> int:
    """Caption font of the grid: 1/4 of a framed tile, at least 14 px. TensorBoard shrinks the
    grid (6 tiles wide) to its card, about 300 px, so the text has to be large in the image."""
    return max(14, (thumbnail_size + 6) // 4)


class RetrievalDashboard(pl.Callback):
    """Logs the retrieval grid and similarity histograms each validation, the projector at the end.

    Args:
        num_queries: sample queries in the grid (drawn once, with ``seed``).
        top_k: neighbours shown per query.
        thumbnail_size: side of each grid tile, pixels (captions scale with it).
        histogram_items: items whose pairwise similarities fill the histograms (a fixed random
            subset when the split is larger; ``n (n - 1) / 2`` pairs).
        projector_items: embeddings in the projector (a fixed random subset); 0 disables it.
        projector_thumbnail: side of the projector's sprite images.
        seed: draws the queries and subsets.
    """

    def __init__(
        self,
        num_queries: int = 8,
        top_k: int = 5,
        thumbnail_size: int = 64,
        histogram_items: int = 2000,
        projector_items: int = 500,
        projector_thumbnail: int = 32,
        seed: int = 0,
    ) -> None:
        self.num_queries, self.top_k = int(num_queries), int(top_k)
        self.thumbnail_size = int(thumbnail_size)
        self.histogram_items, self.projector_items = int(histogram_items), int(projector_items)
        self.projector_thumbnail = int(projector_thumbnail)
        self.seed = int(seed)
        self._seen: Any = None  # the evaluator's last gathered tuple, to log each one once
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray, Any] | None = None

    @staticmethod
    def writers(trainer: pl.Trainer) -> list:
        """The ``SummaryWriter`` of each TensorBoard logger (rank 0 only)."""
        if not trainer.is_global_zero:
            return []
        return [lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]

    def _subset(self, n: int, size: int, salt: int) -> np.ndarray:
        """A fixed sorted random subset of ``range(n)`` with ``min(n, size)`` rows."""
        if n <= size:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.seed + salt).choice(n, size, replace=False))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writers = self.writers(trainer)
        evaluator = next((c for c in trainer.callbacks if isinstance(c, RetrievalEvaluator)), None)
        gathered = evaluator.gathered.get(0) if evaluator is not None else None
        if trainer.sanity_checking or not writers or gathered is None or gathered is self._seen:
            return
        self._seen = gathered
        dataset = trainer.datamodule.datasets.get("val") if trainer.datamodule else None
        emb, labels, indices = gathered
        x = unit_rows(emb)
        step = trainer.global_step
        tiles = self.retrieval_grid(x, labels, indices, dataset) if dataset is not None else None
        pos, neg = self.pair_similarities(x, labels)
        chart = None
        if len(pos) and len(neg):
            chart = similarity_chart(pos, neg, f"validation, epoch {trainer.current_epoch}")
        for writer in writers:
            if tiles is not None:
                writer.add_image("val/retrieval", tiles, step, dataformats="HWC")
            if chart is not None:
                writer.add_image("val/similarity", chart, step, dataformats="HWC")
            if len(pos):
                writer.add_histogram("val/similarity_positive", pos, step)
            if len(neg):
                writer.add_histogram("val/similarity_negative", neg, step)
        self._last = (x, labels, indices, dataset)

    def retrieval_grid(
        self, x: np.ndarray, labels: np.ndarray, indices: np.ndarray, dataset: Any
    ) -> np.ndarray:
        """``uint8 [H, W, 3]``: per query row, the query and its ``top_k`` (ties: lower row),
        each tile captioned, the colour legend under the rows."""
        queries = self._subset(len(x), self.num_queries, salt=1)
        sims = x[queries] @ x.T
        sims[np.arange(len(queries)), queries] = -np.inf  # the query itself, by position
        order = np.argsort(-sims, axis=1, kind="stable")[:, : min(self.top_k, len(x) - 1)]
        size = self.thumbnail_size
        text = grid_caption_size(size)
        rows = []
        for r, (q, neighbours) in enumerate(zip(queries, order, strict=True)):
            captions = tile_captions(
                int(labels[q]), [(int(labels[n]), float(sims[r, n])) for n in neighbours], None, 2
            )
            tiles = [framed(dataset.image(int(indices[q])), size, BLUE)]
            tiles += [
                framed(dataset.image(int(indices[n])), size, hit_color(labels[q], labels[n]))
                for n in neighbours
            ]
            rows.append([captioned(t, c, text) for t, c in zip(tiles, captions, strict=True)])
        body = grid(rows)
        key = np.asarray(legend(body.shape[1], text, LEGEND[:3]))
        width = max(body.shape[1], key.shape[1])
        parts = [body, np.full((6, width, 3), 255, np.uint8), key]
        return np.concatenate(
            [
                np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), constant_values=255)
                for a in parts
            ]
        )

    def pair_similarities(self, x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
        """Cosine similarities of same-label and different-label pairs ``i < j`` of a subset."""
        keep = self._subset(len(x), self.histogram_items, salt=2)
        sims = x[keep] @ x[keep].T
        i, j = np.triu_indices(len(keep), k=1)
        same = labels[keep][i] == labels[keep][j]
        values = sims[i, j]
        return values[same], values[~same]

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        writers = self.writers(trainer)
        if not writers or self._last is None or self.projector_items <= 0:
            return
        x, labels, indices, dataset = self._last
        keep = self._subset(len(x), self.projector_items, salt=3)
        images = None
        if dataset is not None:
            side = self.projector_thumbnail
            thumbs = [np.asarray(thumbnail(dataset.image(int(indices[i])), side)) for i in keep]
            images = torch.from_numpy(np.stack(thumbs)).permute(0, 3, 1, 2).float() / 255.0
        for writer in writers:
            writer.add_embedding(
                torch.from_numpy(x[keep]),
                metadata=[int(v) for v in labels[keep]],
                label_img=images,
                global_step=trainer.global_step,
                tag="val_embeddings",
            )
            writer.flush()
