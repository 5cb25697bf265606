"""``scripts/benchmarks/omniglot.py``'s peer side: its bare-FAISS Recall@K agrees with metriclab's
evaluator, and the plain loop trains and evaluates on a tiny Omniglot-layout folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metriclab.metrics import retrieval_metrics

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmarks" / "omniglot.py"
spec = importlib.util.spec_from_file_location("metriclab_benchmark_omniglot", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_peer_recall_agrees_with_the_evaluator():
    rng = np.random.default_rng(0)
    labels = torch.from_numpy(rng.integers(0, 30, 400))
    embeddings = torch.from_numpy(rng.normal(size=(400, 16)).astype(np.float32))
    embeddings[:, 0] += labels.float()  # some structure, so the recalls are not all tiny
    ours = retrieval_metrics(embeddings, labels)
    theirs = bench.recall_at_k(embeddings, labels)
    for k in bench.KS:
        assert theirs[f"test/recall@{k}"] == pytest.approx(ours[f"recall@{k}"], abs=1e-9)
    assert 0.05 < theirs["test/recall@1"] < theirs["test/recall@8"] < 1.0


def write_characters(folder: Path, classes: range, drawers: int = 4) -> None:
    for c in classes:
        for d in range(1, drawers + 1):
            pixels = np.random.default_rng(c * 100 + d).integers(0, 2, (105, 105)) * 255
            path = folder / f"{c:04d}" / f"{c:04d}_{d:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels.astype(np.uint8)).save(path)


def test_peer_loop_trains_one_epoch_on_an_omniglot_layout(tmp_path):
    write_characters(tmp_path / "images_background", range(1, 41))
    write_characters(tmp_path / "images_evaluation", range(41, 51))
    images, labels = bench.load_set(tmp_path / "images_evaluation")
    assert images.shape == (40, 1, 28, 28) and labels.tolist() == [i // 4 for i in range(40)]
    result = bench.run_peer(tmp_path, epochs=1)
    recalls = [result[f"test/recall@{k}"] for k in bench.KS]
    assert recalls == sorted(recalls) and all(0.0 <= r <= 1.0 for r in recalls)
    assert result["train_time_s"] > 0
