"""``scripts/export.py code=… index=…|auto``: every index kind round-trips export -> retrieve."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from metriclab.commands import app, export, frontier
from metriclab.commands import retrieve as search
from metriclab.deployment.frontier import build, unit
from metriclab.deployment.frontier import search as frontier_search
from metriclab.deployment.index import CompressedIndex, load_index, remove_rows
from metriclab.deployment.index import search as index_search
from metriclab.deployment.loading import open_run

KINDS = [
    ("fp16", "flat", 0),
    ("int8", "flat", 8),
    ("binary", "flat", 0),
    ("binary+rescore", "flat", 0),
    ("pq4", "flat", 0),
    ("fp32", "ivf", 0),
    ("int8", "hnsw", 0),
]


def export_with(digits_run: Path, out: Path, **options) -> int:
    given = {
        **export.OPTIONS,
        "ckpt_path": str(digits_run),
        "out": str(out),
        "progress": False,
        "onnx": False,
        **options,
    }
    return export.main([f"{k}={v}" for k, v in given.items() if v is not None])


@pytest.mark.parametrize(("code", "kind", "dims"), KINDS, ids=[f"{c}-{k}" for c, k, _ in KINDS])
def test_index_kind_round_trips(digits_run: Path, tmp_path: Path, code, kind, dims) -> None:
    assert export_with(digits_run, tmp_path, code=code, index=kind, dims=dims) == 0
    index, meta = load_index(tmp_path)
    assert isinstance(index, CompressedIndex) and not meta.is_exact
    assert (meta.index["code"], meta.index["index"]) == (code, kind)
    vectors = index.reconstruct_n(0, index.ntotal)  # the normalised gallery, from vectors.npy
    assert vectors.shape == (896, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    d = dims or 16
    sims, rows = index_search(index, vectors, 5)
    assert rows.shape == sims.shape == (896, 5)
    if code in ("fp32", "binary+rescore"):  # ranked by the exact cosine it reports
        assert np.all(np.diff(sims, axis=1) <= 1e-6)
    if kind == "flat":  # the served index answers exactly as the measured one
        fresh, _ = build(code, kind, unit(vectors[:, :d]), meta.index["params"])
        rescore = int(meta.index["params"].get("rescore", 0))
        want, _ = frontier_search(
            fresh, code, unit(vectors[:, :d]), unit(vectors[:, :d]), 5, rescore
        )
        assert np.array_equal(rows, want)
    if code in ("fp16", "int8") or kind != "flat":  # (16 sign bits: hundreds of equal codes)
        assert np.mean(rows[:, 0] == np.arange(896)) > 0.9  # a gallery image finds itself


def test_retrieve_serves_a_compressed_index(digits_run: Path, tmp_path: Path) -> None:
    assert export_with(digits_run, tmp_path, code="int8", index="hnsw") == 0
    options = {**search.OPTIONS, "index": str(tmp_path), "query": str(tmp_path / "gallery" / "7")}
    results = search.retrieve(
        {**options, "k": 3, "out": str(tmp_path / "views"), "progress": False, "thumbnail": 24}
    )
    found = np.mean([matches[0].path == query for query, matches in results])
    assert len(results) > 100 and found > 0.9


def test_index_auto_picks_the_best_point_within_budget(digits_run: Path, tmp_path: Path) -> None:
    run = open_run(str(digits_run))
    options = {**app.defaults("frontier"), "progress": False, "device": "cpu", "dims": [8, 16]}
    options["out"] = str(tmp_path / "frontier")
    options["tensorboard"] = False
    points, _ = frontier.frontier_run(run, options)
    budget = 8.0
    fits = [p for p in points if p.bytes_per_vector <= budget]
    best = max(p.metrics["recall@1"] for p in fits)
    frontier_file = str(tmp_path / "frontier" / "frontier.json")
    out = tmp_path / "auto"
    status = export_with(
        digits_run, out, index="auto", max_bytes_per_vector=budget, frontier=frontier_file
    )
    assert status == 0
    _, meta = load_index(out)
    card = meta.index
    assert card["measured"]["bytes_per_vector"] <= budget
    assert card["measured"]["recall@1"] == pytest.approx(best, abs=1e-4)
    assert card["exact"]["bytes_per_vector"] == 64 and "recall@1" in card["exact"]


def test_index_auto_without_a_fitting_point_writes_nothing(
    digits_run: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "none"
    missing = export_with(digits_run, out, index="auto", frontier=str(tmp_path / "no.json"))
    assert missing == 2 and "run python scripts/frontier.py" in capsys.readouterr().err
    assert not out.exists()
    assert export_with(digits_run, out, code="pq3", dims=16) == 2
    assert "must divide dims=16" in capsys.readouterr().err and not out.exists()


def test_remove_rows_keeps_order_on_every_index_type() -> None:
    x = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    quantizer = faiss.IndexFlatIP(8)  # kept referenced: the IVF index does not own it
    ivf = faiss.IndexIVFFlat(quantizer, 8, 4, faiss.METRIC_INNER_PRODUCT)
    ivf.train(x)
    hnsw = faiss.IndexHNSWFlat(8, 8, faiss.METRIC_INNER_PRODUCT)
    for index in (faiss.IndexFlatIP(8), ivf, hnsw):
        index.add(x)
        assert remove_rows(index, np.arange(10, 50)) is index
        assert index.ntotal == 260
        if hasattr(index, "make_direct_map"):
            index.make_direct_map()
        got = np.stack([index.reconstruct(i) for i in range(260)])
        np.testing.assert_allclose(got, np.r_[x[:10], x[50:]], atol=1e-6)
