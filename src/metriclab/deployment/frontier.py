"""The deployment frontier: retrieval metrics of compressed and approximate FAISS indexes.

One operating point = an embedding prefix (Matryoshka dimension ``d``), a code (how each vector
is stored) and an index (how it is searched). Each point is built on the gallery, searched with
every query, and scored with the exact metric definitions of :mod:`metriclab.metrics.formulas`
from the neighbours it returns, so its Recall@K and MAP@R compare directly with exact search.

Codes (bytes per vector for ``d`` dimensions):

- ``fp32`` (``4d``), ``fp16`` (``2d``), ``int8`` (``d``, per-dimension min/max trained on the
  gallery): FAISS scalar quantizers, inner product on the decoded vectors;
- ``binary`` (``d/8``): sign bits, Hamming distance (``IndexBinaryFlat``); ``binary+rescore``
  re-ranks the ``rescore x k`` nearest codes by the exact float32 inner product (the float vectors
  stay on disk; only the codes are in memory);
- ``pq<m>`` (``m`` bytes): product quantization, ``m`` sub-vectors of 8 bits.

Indexes: ``flat`` (every code compared), ``ivf`` (``nlist`` k-means cells, ``nprobe`` searched)
and ``hnsw`` (graph, ``M`` links, ``efSearch``), the last two over fp32 or int8 codes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import faiss
import numpy as np

from metriclab.metrics.formulas import (
    average_precision_at_r,
    neighbour_hits,
    r_precision,
    recall_at_k,
    relevant_counts,
)
from metriclab.search.inputs import unit_rows as unit

SCALAR = {"fp32": None, "fp16": "QT_fp16", "int8": "QT_8bit"}


@dataclass
class OperatingPoint:
    """One measured configuration: what it is, what it costs, what it retrieves."""

    dims: int
    code: str
    index: str
    params: dict[str, Any] = field(default_factory=dict)
    bytes_per_vector: float = 0.0
    build_s: float = 0.0
    ms_per_query: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    kept: float = 1.0  # R@1 / R@1 of exact fp32 search at the same dims

    @property
    def name(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.dims}d {self.code} {self.index}" + (f" ({extra})" if extra else "")

    def row(self) -> dict[str, Any]:
        return {
            "dims": self.dims,
            "code": self.code,
            "index": self.index,
            "params": " ".join(f"{k}={v}" for k, v in self.params.items()),
            "bytes_per_vector": self.bytes_per_vector,
            "build_s": round(self.build_s, 4),
            "ms_per_query": round(self.ms_per_query, 4),
            **{k: round(v, 4) for k, v in self.metrics.items()},
            "kept_r1": round(self.kept, 4),
        }


def float_index(code: str, index: str, d: int, n: int, params: dict[str, Any]) -> faiss.Index:
    """An untrained, empty inner-product index of ``code`` (fp32/fp16/int8) and ``index`` kind."""
    ip = faiss.METRIC_INNER_PRODUCT
    qtype = SCALAR.get(code)
    if code.startswith("pq"):
        m = int(code[2:])
        if index == "flat":
            return faiss.IndexPQ(d, m, 8, ip)
        return faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, params["nlist"], m, 8, ip)
    if index == "flat":
        if qtype is None:
            return faiss.IndexFlatIP(d)
        return faiss.IndexScalarQuantizer(d, getattr(faiss.ScalarQuantizer, qtype), ip)
    if index == "ivf":
        quantizer = faiss.IndexFlatIP(d)
        if qtype is None:
            return faiss.IndexIVFFlat(quantizer, d, params["nlist"], ip)
        sq = getattr(faiss.ScalarQuantizer, qtype)
        return faiss.IndexIVFScalarQuantizer(quantizer, d, params["nlist"], sq, ip)
    if index == "hnsw":
        if qtype is None:
            return faiss.IndexHNSWFlat(d, params["M"], ip)
        return faiss.IndexHNSWSQ(d, getattr(faiss.ScalarQuantizer, qtype), params["M"], ip)
    raise ValueError(f"unknown index kind {index!r}; use flat, ivf or hnsw")


def code_bytes(code: str, d: int) -> float:
    """Bytes each gallery vector takes in the index's codes (graph links and lists left out)."""
    if code.startswith("pq"):
        return float(code[2:])
    return {"fp32": 4.0 * d, "fp16": 2.0 * d, "int8": float(d)}.get(code, d / 8)


def build(code: str, index: str, gallery: np.ndarray, params: dict[str, Any]) -> tuple[Any, float]:
    """``(index, build seconds)``: trained on and filled with the unit ``gallery [N, d]``."""
    start = time.perf_counter()
    d = gallery.shape[1]
    if code.startswith("binary"):
        built = faiss.IndexBinaryFlat(d)
        built.add(np.packbits(gallery > 0, axis=1))
    else:
        built = float_index(code, index, d, len(gallery), params)
        for owner in (built, getattr(built, "pq", None)):  # small galleries train anyway,
            if hasattr(owner, "cp"):  # without FAISS's "provide at least N points" warnings
                owner.cp.min_points_per_centroid = 1
        if not built.is_trained:
            built.train(gallery)
        built.add(gallery)
        if index == "ivf":
            built.nprobe = int(params["nprobe"])
        if index == "hnsw":
            built.hnsw.efSearch = int(params["efSearch"])
    return built, time.perf_counter() - start


def rescored(ids: np.ndarray, queries: np.ndarray, gallery: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` of each row's candidate ``ids [Q, W]`` with the highest exact inner product
    (``-1``: none), ``[Q, k]``; in chunks of queries that gather at most 32 MB of vectors."""
    rows = max(1, (32 << 20) // max(1, ids.shape[1] * gallery.shape[1] * 4))
    out = np.empty((len(ids), k), dtype=np.int64)
    for start in range(0, len(ids), rows):
        part = ids[start : start + rows]
        vectors = gallery[np.maximum(part, 0)]  # [q, W, d]
        scores = np.einsum("qd,qwd->qw", queries[start : start + rows], vectors)
        scores[part < 0] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        out[start : start + rows] = np.take_along_axis(part, order, axis=1)
    return out


def search(
    built: Any,
    code: str,
    queries: np.ndarray,
    gallery: np.ndarray,
    k: int,
    rescore: int = 0,
) -> tuple[np.ndarray, float]:
    """``(neighbour ids [Q, k], seconds)``; ``binary+rescore`` re-ranks ``rescore * k``
    Hamming candidates by the float inner product with ``gallery``."""
    start = time.perf_counter()
    if code.startswith("binary"):
        wide = min(len(gallery), k * max(1, rescore)) if code == "binary+rescore" else k
        _, ids = built.search(np.packbits(queries > 0, axis=1), wide)
        if code == "binary+rescore":
            ids = rescored(ids, queries, gallery, k)
    else:
        _, ids = built.search(queries, k)
    return ids.astype(np.int64), time.perf_counter() - start


def neighbour_metrics(
    ids: np.ndarray,
    query_labels: np.ndarray,
    gallery_labels: np.ndarray,
    ks: tuple[int, ...],
    self_gallery: bool,
) -> dict[str, float]:
    """Recall@k, R-precision and MAP@R from the ids an index returned.

    ``ids [Q, K']``: gallery ids, ``-1`` for none; in a self-gallery search the query's own id
    is removed wherever it appears (an approximate index may rank it anywhere, or miss it).
    Needs ``K' - self_gallery >= max(R)`` for MAP@R (a missing neighbour counts as a miss).
    """
    r = relevant_counts(query_labels, gallery_labels, exclude_self=self_gallery)
    rows = np.arange(len(ids))
    width = ids.shape[1] - int(self_gallery)
    if self_gallery:
        own = ids == rows[:, None]
        # keep each row's first `width` entries that are not the query itself
        keep = np.argsort(own, axis=1, kind="stable")[:, :width]
        ids = np.take_along_axis(ids, keep, axis=1)
    labels = np.where(ids >= 0, gallery_labels[np.maximum(ids, 0)], -1)
    labels[ids < 0] = np.iinfo(np.int64).min  # never a query's label
    hits = neighbour_hits(labels, query_labels)
    valid = r > 0
    hits, r = hits[valid], r[valid]
    out = {f"recall@{k}": float(recall_at_k(hits, k).mean()) for k in ks}
    if int(r.max(initial=0)) <= hits.shape[1]:
        out["r_precision"] = float(r_precision(hits, r).mean())
        out["map@r"] = float(average_precision_at_r(hits, r).mean())
    return out


def default_grid(n: int, dims: int) -> list[tuple[str, str, dict[str, Any]]]:
    """``(code, index, params)`` of the points measured for ``n`` gallery vectors of ``dims``."""
    nlist = max(1, min(int(round(4 * np.sqrt(n))), n // 39))
    grid: list[tuple[str, str, dict[str, Any]]] = [
        ("fp32", "flat", {}),
        ("fp16", "flat", {}),
        ("int8", "flat", {}),
        ("binary", "flat", {}),
        ("binary+rescore", "flat", {"rescore": 10}),
    ]
    for m in (dims // 4, dims // 8):
        if m >= 1 and dims % m == 0 and n >= 256:
            grid.append((f"pq{m}", "flat", {}))
    if nlist >= 4:
        for nprobe in (1, 4, 16):
            if nprobe < nlist:
                grid.append(("fp32", "ivf", {"nlist": nlist, "nprobe": nprobe}))
    for ef in (16, 64):
        grid.append(("fp32", "hnsw", {"M": 32, "efSearch": ef}))
        grid.append(("int8", "hnsw", {"M": 32, "efSearch": ef}))
    return grid


def measure(
    query: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray | None = None,
    gallery_labels: np.ndarray | None = None,
    dims: tuple[int, ...] | None = None,
    ks: tuple[int, ...] = (1, 2, 4, 8),
    grid: list[tuple[str, str, dict[str, Any]]] | None = None,
    threads: int | None = None,
) -> list[OperatingPoint]:
    """Every point of ``grid`` (default :func:`default_grid`) at every prefix in ``dims``.

    Args:
        query, query_labels: ``[Nq, D]`` embeddings and ``[Nq]`` labels.
        gallery, gallery_labels: the gallery, or ``None``: the queries are the gallery (each
            query left out of its own neighbours).
        dims: prefix sizes (default: ``D`` only); each prefix is re-normalised.
        threads: FAISS threads (default: FAISS's).

    Returns the points in grid order, ``kept`` relative to ``fp32 flat`` at the same dims.
    """
    before = faiss.omp_get_max_threads()
    if threads:
        faiss.omp_set_num_threads(int(threads))
    try:
        return _measure(query, query_labels, gallery, gallery_labels, dims, ks, grid)
    finally:
        faiss.omp_set_num_threads(before)


def _measure(query, query_labels, gallery, gallery_labels, dims, ks, grid) -> list[OperatingPoint]:
    self_gallery = gallery is None
    gallery_full = query if self_gallery else gallery
    gallery_labels = query_labels if self_gallery else gallery_labels
    r = relevant_counts(query_labels, gallery_labels, exclude_self=self_gallery)
    k = int(max(max(ks), r.max(initial=1))) + int(self_gallery)
    k = min(k, len(gallery_full))
    points: list[OperatingPoint] = []
    for d in dims or (query.shape[1],):
        q, g = unit(query[:, :d]), unit(gallery_full[:, :d])
        exact_r1 = None
        for code, index, params in grid or default_grid(len(g), d):
            built, build_s = build(code, index, g, params)
            ids, search_s = search(built, code, q, g, k, int(params.get("rescore", 0)))
            found = neighbour_metrics(ids, query_labels, gallery_labels, ks, self_gallery)
            point = OperatingPoint(
                dims=d,
                code=code,
                index=index,
                params=dict(params),
                bytes_per_vector=code_bytes(code, d),
                build_s=build_s,
                ms_per_query=1000 * search_s / max(1, len(q)),
                metrics=found,
            )
            if exact_r1 is None and (code, index) == ("fp32", "flat"):
                exact_r1 = found["recall@1"]
            point.kept = found["recall@1"] / exact_r1 if exact_r1 else float("nan")
            points.append(point)
    return points


def pareto(points: list[OperatingPoint], cost: str = "bytes_per_vector") -> list[OperatingPoint]:
    """The points no other point beats on both R@1 (higher) and ``cost`` (lower)."""

    def beaten(p: OperatingPoint) -> bool:
        return any(
            getattr(o, cost) <= getattr(p, cost)
            and o.metrics["recall@1"] >= p.metrics["recall@1"]
            and (
                getattr(o, cost) < getattr(p, cost) or o.metrics["recall@1"] > p.metrics["recall@1"]
            )
            for o in points
        )

    return [p for p in points if not beaten(p)]
