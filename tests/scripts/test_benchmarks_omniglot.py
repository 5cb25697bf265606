"""``scripts/benchmarks/omniglot.py``'s peer side: its bare-FAISS Recall@K agrees with metriclab's
evaluator, and the plain loop trains and evaluates on a tiny Omniglot-layout folder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from metriclab.metrics import retrieval_metrics

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmarks" / "omniglot.py"
sys.path.insert(0, str(SCRIPT.parent))  # its shared helpers (head_to_head.py), as when run
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
    low, high = recall_bounds(embeddings.numpy(), labels.numpy(), bench.KS)  # no near-ties here
    assert low == pytest.approx(high) and high == pytest.approx(
        {k: ours[f"recall@{k}"] for k in bench.KS}
    )
    assert 0.05 < theirs["test/recall@1"] < theirs["test/recall@8"] < 1.0


def recall_bounds(
    emb: np.ndarray, labels: np.ndarray, ks: tuple[int, ...], eps: float = 1e-6
) -> tuple[dict[int, float], dict[int, float]]:
    """Leave-one-out Recall@K by cosine, one query at a time, whatever order near-ties (within
    ``eps``) take: ``low`` counts a hit only when fewer than ``k`` others come within ``eps`` of
    the query's best same-class score, ``high`` unless ``k`` others beat it by more than ``eps``.
    Without near-ties both are the plain recount (checked in the first test)."""
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    low, high = dict.fromkeys(ks, 0.0), dict.fromkeys(ks, 0.0)
    for i in range(len(x)):
        sims = (x * x[i]).sum(axis=1)
        sims[i] = np.nan  # the query is not its own neighbour
        same = labels == labels[i]
        same[i] = False
        best = np.nanmax(np.where(same, sims, np.nan))
        others = np.delete(sims, [i, int(np.nanargmax(np.where(same, sims, np.nan)))])
        tied_or_above, above = int((others >= best - eps).sum()), int((others > best + eps).sum())
        for k in ks:
            low[k] += (tied_or_above < k) / len(x)
            high[k] += (above < k) / len(x)
    return low, high


def write_characters(folder: Path, classes: range, drawers: int = 4) -> None:
    for c in classes:
        for d in range(1, drawers + 1):
            pixels = np.random.default_rng(c * 100 + d).integers(0, 2, (105, 105)) * 255
            path = folder / f"{c:04d}" / f"{c:04d}_{d:02d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels.astype(np.uint8)).save(path)


def test_peer_loop_trains_one_epoch_on_an_omniglot_layout(tmp_path, monkeypatch):
    """The loop changes the network, and its Recall@K is that of the trained network's
    embeddings of the evaluation images, recounted query by query."""
    write_characters(tmp_path / "images_background", range(1, 41))
    write_characters(tmp_path / "images_evaluation", range(41, 51))
    images, labels = bench.load_set(tmp_path / "images_evaluation")
    assert images.shape == (40, 1, 28, 28) and labels.tolist() == [i // 4 for i in range(40)]
    built, scored = [], {}
    conv4, recall_at_k = bench.conv4, bench.recall_at_k
    monkeypatch.setattr(bench, "conv4", lambda: built.append(conv4()) or built[-1])
    monkeypatch.setattr(
        bench, "recall_at_k", lambda e, y: scored.update(e=e, y=y) or recall_at_k(e, y)
    )
    result = bench.run_peer(tmp_path, epochs=1)
    torch.manual_seed(0)  # run_peer's seed: the network it started from
    start = conv4().state_dict()
    (model,) = built
    assert not torch.equal(model[0].weight, start["0.weight"])  # a step of Adam was taken
    with torch.no_grad():
        torch.testing.assert_close(scored["e"], model.eval()(images))
    assert torch.equal(scored["y"], labels)
    low, high = recall_bounds(scored["e"].numpy(), labels.numpy(), bench.KS)
    for k in bench.KS:  # one epoch leaves near-ties (1e-8 apart): the tie rule is free
        got = result[f"test/recall@{k}"]  # 1e-12: the mean of 0/1 values, summed in float64
        assert low[k] - 1e-12 <= got <= high[k] + 1e-12, (k, low[k], high[k])
        assert high[k] - low[k] <= 0.1, k  # so the bounds stay a real check
    assert result["train_time_s"] > 0
