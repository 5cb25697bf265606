"""Keep what a later report needs: the tested model's test embeddings, labels and class split.

After ``trainer.test`` (the best checkpoint of the run, chosen on validation) this callback
writes into the run directory:

- ``test_embeddings.npy``: ``float32 [N, D]``, the test split's embeddings in dataset order (for a
  query/gallery data set such as In-Shop, the queries; the gallery in
  ``test_gallery_embeddings.npy`` / ``test_gallery_labels.npy``);
- ``test_labels.npy``: ``int64 [N]``, the original class id of each row;
- ``split.json``: ``{"train": [...], "val": [...], "test": [...]}`` original class ids, plus
  ``"folds"`` / ``"fold"`` under ``protocol=kfold`` and the data set's ``"data"`` name and root.

Any view (the concatenation of several models' embeddings, a bootstrap over classes) can then be
recomputed without the model (``python scripts/report.py SWEEP_DIR``, docs/reality_check.md).
Every file is written atomically (a temporary beside it, then renamed).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from metriclab.callbacks.evaluator import RetrievalEvaluator
from metriclab.runs.report import atomic_write, write_json_atomic

log = logging.getLogger("metriclab")


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` through a temporary file renamed into place."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write(path, lambda f: f.write(buffer.getvalue()), binary=True)


class SaveTestOutputs(pl.Callback):
    """Writes ``test_embeddings.npy``, ``test_labels.npy`` and ``split.json`` after testing.

    Args:
        dirpath: the run directory (``${paths.output_dir}``).
    """

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        evaluator = next((c for c in trainer.callbacks if isinstance(c, RetrievalEvaluator)), None)
        datamodule = trainer.datamodule
        if evaluator is None or not evaluator.gathered or datamodule is None:
            return
        names = ["test", "test_gallery"]
        for (_, (emb, _, indices)), name, key in zip(
            sorted(evaluator.gathered.items()), names, datamodule.test_splits, strict=False
        ):
            original = np.asarray(datamodule.datasets[key].split.labels, dtype=np.int64)
            save_npy(self.dirpath / f"{name}_embeddings.npy", np.asarray(emb, dtype=np.float32))
            save_npy(self.dirpath / f"{name}_labels.npy", original[indices])
        split = dict(getattr(datamodule, "class_split", {}) or {})
        split |= {"data": datamodule.name, "root": datamodule.root}
        if getattr(datamodule, "folds", 0):
            split |= {"folds": datamodule.folds, "fold": datamodule.fold}
        write_json_atomic(self.dirpath / "split.json", split)
        log.info("test embeddings, labels and split.json saved in %s", self.dirpath)
