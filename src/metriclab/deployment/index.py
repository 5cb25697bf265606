"""A saved gallery index: ``index.faiss`` + ``index.json`` (metadata).

By default the index holds L2-normalised gallery embeddings in a ``faiss.IndexFlatIP`` (exact
cosine search). ``IndexMeta.index`` may name another operating point of
:mod:`metriclab.deployment.frontier` instead (a prefix of ``dims``, a code: fp16, int8, binary,
binary+rescore, pq<m>, and an index: flat, ivf, hnsw); the normalised float vectors are then kept
beside it in ``vectors.npy`` (for re-scoring, centroids and re-exports), and
:func:`load_index` returns a :class:`CompressedIndex` that searches the way it was measured.

``index.json`` (see :class:`IndexMeta`) names each row's image (``paths``) and ``labels``, the
class names, the exported models and the test-time transform, so that
``scripts/retrieve.py`` needs nothing else (no config, no checkpoint). :func:`remove_rows` drops
rows from a FAISS index (``scripts/enroll.py remove=``, the service's remove).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from metriclab.errors import ConfigError
from metriclab.search.inputs import unit_rows as normalized  # rows of unit L2 norm

FORMAT = "metriclab-index/1"
VECTORS = "vectors.npy"  # the normalised float gallery beside a compressed index


@dataclass
class IndexMeta:
    """What ``index.json`` holds.

    Attributes:
        paths: ``[N]`` image file of each index row.
        labels: ``[N]`` class id of each row (``-1``: unknown).
        class_names: name of each class id (``labels`` index into it).
        models: ``{"torchscript": file, "onnx": file}`` relative to the index folder.
        transform: the test-time transform options (see ``deployment.embedding.transform_spec``).
        embedding_size: ``D``.
        source: where the gallery came from (a split name of the run's data, or a folder).
        checkpoint: the checkpoint the models were exported from.
        check: max absolute embedding difference of each exported model vs the checkpoint.
        classifier: the open-set classifier and its calibrated threshold, when one was
            calibrated (see :mod:`metriclab.recognition.calibrate`); ``{}`` otherwise.
        index: the operating point (``dims``, ``code``, ``index``, ``params``, and with
            ``index=auto`` what was measured for it and for exact search); ``{}``: exact fp32.
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
    index: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT

    @property
    def is_exact(self) -> bool:
        """The default exact fp32 flat index over the full embedding."""
        spec = self.index
        return not spec or (
            spec.get("code", "fp32") == "fp32"
            and spec.get("index", "flat") == "flat"
            and int(spec.get("dims") or self.embedding_size) == self.embedding_size
        )


class CompressedIndex:
    """A quantized / approximate gallery index searched as it was measured.

    Args:
        codes: the FAISS index over the unit ``dims``-prefixes (``IndexBinary`` for binary codes).
        vectors: ``[N, D]`` the normalised full embeddings (``vectors.npy``).
        spec: ``IndexMeta.index``.
    """

    def __init__(self, codes: Any, vectors: np.ndarray, spec: dict[str, Any]) -> None:
        self.codes, self.vectors, self.spec = codes, vectors, spec
        self.dims = int(spec.get("dims") or vectors.shape[1])
        self.code = str(spec.get("code", "fp32"))
        self.ntotal = int(codes.ntotal)
        self.gallery = normalized(vectors[:, : self.dims])  # once, not per search

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``sims [Q, k]`` (cosine of the ``dims``-prefixes, exact for re-scored and float
        codes, estimated otherwise) and ``rows [Q, k]``."""
        from metriclab.deployment.frontier import search as frontier_search

        k = min(k, self.ntotal)
        q, g = normalized(np.asarray(queries)[:, : self.dims]), self.gallery
        rescore = int(self.spec.get("params", {}).get("rescore", 0))
        rows, _ = frontier_search(self.codes, self.code, q, g, k, rescore)
        sims = np.einsum("qd,qkd->qk", q, g[np.maximum(rows, 0)]).astype(np.float32)
        sims[rows < 0] = -np.inf
        return sims, rows

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        """The stored normalised full embeddings ``[n, D]`` (from ``vectors.npy``)."""
        return self.vectors[start : start + n]


def save_index(folder: Path, embeddings: np.ndarray, meta: IndexMeta) -> Path:
    """Write ``index.faiss`` (the normalised ``[N, D]`` embeddings) and ``index.json``."""
    if len(meta.paths) != len(embeddings) or len(meta.labels) != len(embeddings):
        raise ValueError(
            f"{len(embeddings)} embeddings but {len(meta.paths)} paths / {len(meta.labels)} labels"
        )
    folder.mkdir(parents=True, exist_ok=True)
    vectors = normalized(embeddings)
    if meta.is_exact:
        index = faiss.IndexFlatIP(embeddings.shape[1])
        index.add(vectors)
        faiss.write_index(index, str(folder / "index.faiss"))
    else:
        from metriclab.deployment.frontier import build

        spec = meta.index
        dims = int(spec.get("dims") or vectors.shape[1])
        codes, _ = build(spec["code"], spec["index"], normalized(vectors[:, :dims]), spec["params"])
        if spec["code"].startswith("binary"):
            faiss.write_index_binary(codes, str(folder / "index.faiss"))
        else:
            faiss.write_index(codes, str(folder / "index.faiss"))
        np.save(folder / VECTORS, vectors)
    (folder / "index.json").write_text(json.dumps(asdict(meta), indent=1), encoding="utf-8")
    return folder


def index_folder(setting: str | Path | None) -> Path:
    """The ``index=`` setting of a command as a folder; one error line when it was not given."""
    if setting is None or str(setting) == "":
        raise ConfigError("no index given; pass index=RUN_DIR/export (a scripts/export.py folder)")
    return Path(setting).expanduser()


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
    if meta.is_exact:
        index = faiss.read_index(str(files[0]))
    else:
        if not (folder / VECTORS).is_file():
            raise ConfigError(
                f"index={folder}: a {meta.index.get('code')} {meta.index.get('index')} index "
                f"needs {VECTORS} beside it; export the index again"
            )
        binary = str(meta.index.get("code", "")).startswith("binary")
        codes = (faiss.read_index_binary if binary else faiss.read_index)(str(files[0]))
        index = CompressedIndex(codes, np.load(folder / VECTORS), meta.index)
    if index.ntotal != len(meta.paths):
        raise ConfigError(
            f"index={folder}: index.faiss has {index.ntotal} rows but index.json names "
            f"{len(meta.paths)} images; export the index again"
        )
    return index, meta


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar rows of each query: ``sims [Q, k] float32``, ``rows [Q, k] int64``
    (cosine similarity, highest first; ``k`` capped at the index size). ``index``: a FAISS
    index or a :class:`CompressedIndex` (see :func:`load_index`)."""
    if isinstance(index, CompressedIndex):
        return index.search(queries, k)
    return index.search(normalized(queries), min(k, index.ntotal))


def remove_rows(index: faiss.Index, rows: np.ndarray) -> faiss.Index:
    """``index`` without ``rows`` (the others keep their order, renumbered ``0..``)."""
    if isinstance(index, faiss.IndexFlat):
        index.remove_ids(np.asarray(rows, dtype=np.int64))
        return index
    keep = np.setdiff1d(np.arange(index.ntotal), rows)
    try:  # other index types: reconstruct what stays, empty the (trained) index, add it back
        if hasattr(index, "make_direct_map"):
            index.make_direct_map()
        kept = np.stack([index.reconstruct(int(r)) for r in keep]) if len(keep) else None
        index.reset()
        if kept is not None:
            index.add(kept)
    except RuntimeError as exc:
        raise ConfigError(
            f"this index type ({type(index).__name__}) cannot remove rows "
            f"({str(exc).splitlines()[0][:80]}); export the gallery again without the class"
        ) from None
    return index
