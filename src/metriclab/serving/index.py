"""A saved gallery index: ``index.faiss`` (exact inner product) + ``index.json`` (metadata).

The index holds L2-normalised gallery embeddings in a ``faiss.IndexFlatIP``, so a search ranks by
cosine similarity. ``index.json`` (see :class:`IndexMeta`) names each row's image (``paths``) and
``labels``, the class names, the exported models and the test-time transform, so that
``scripts/retrieve.py`` needs nothing else (no config, no checkpoint).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from metriclab.errors import ConfigError

FORMAT = "metriclab-index/1"


@dataclass
class IndexMeta:
    """What ``index.json`` holds.

    Attributes:
        paths: ``[N]`` image file of each index row.
        labels: ``[N]`` class id of each row (``-1``: unknown).
        class_names: name of each class id (``labels`` index into it).
        models: ``{"torchscript": file, "onnx": file}`` relative to the index folder.
        transform: the test-time transform options (see ``serving.embedding.transform_spec``).
        embedding_size: ``D``.
        source: where the gallery came from (a split name of the run's data, or a folder).
        checkpoint: the checkpoint the models were exported from.
        check: max absolute embedding difference of each exported model vs the checkpoint.
        classifier: the open-set classifier and its calibrated threshold, when one was
            calibrated (see :mod:`metriclab.serving.calibrate`); ``{}`` otherwise.
    """

    paths: list[str]
    labels: list[int]
    class_names: list[str]
    models: dict[str, str]
    transform: dict[str, Any]
    embedding_size: int
    source: str = ""
    checkpoint: str = ""
    check: dict[str, float] = field(default_factory=dict)
    classifier: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT


def normalized(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero): ``float32 [N, D]``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def save_index(folder: Path, embeddings: np.ndarray, meta: IndexMeta) -> Path:
    """Write ``index.faiss`` (the normalised ``[N, D]`` embeddings) and ``index.json``."""
    if len(meta.paths) != len(embeddings) or len(meta.labels) != len(embeddings):
        raise ValueError(
            f"{len(embeddings)} embeddings but {len(meta.paths)} paths / {len(meta.labels)} labels"
        )
    folder.mkdir(parents=True, exist_ok=True)
    index = faiss.IndexFlatIP(embeddings.shape[1])
    index.add(normalized(embeddings))
    faiss.write_index(index, str(folder / "index.faiss"))
    (folder / "index.json").write_text(json.dumps(asdict(meta), indent=1), encoding="utf-8")
    return folder


def load_index(folder: str | Path) -> tuple[faiss.Index, IndexMeta]:
    """Read an index folder written by :func:`save_index`."""
    folder = Path(folder).expanduser()
    files = [folder / "index.faiss", folder / "index.json"]
    if not all(f.is_file() for f in files):
        raise ConfigError(
            f"index={folder}: no index.faiss + index.json there; build one with "
            "python scripts/export.py ckpt_path=PATH (it prints the folder)"
        )
    meta = IndexMeta(**json.loads(files[1].read_text(encoding="utf-8")))
    index = faiss.read_index(str(files[0]))
    if index.ntotal != len(meta.paths):
        raise ConfigError(
            f"index={folder}: index.faiss has {index.ntotal} rows but index.json names "
            f"{len(meta.paths)} images; export the index again"
        )
    return index, meta


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar rows of each query: ``sims [Q, k] float32``, ``rows [Q, k] int64``
    (cosine similarity, highest first; ``k`` capped at the index size)."""
    return index.search(normalized(queries), min(k, index.ntotal))
