"""callbacks.test_outputs: a run keeps its test embeddings, labels and class split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metriclab.metrics import retrieval_metrics
from metriclab.pipeline import train


def test_run_keeps_what_recomputes_its_test_metrics(make_cfg, tmp_path):
    train(make_cfg("logger=csv"))
    run = tmp_path / "run"
    emb = np.load(run / "test_embeddings.npy")
    labels = np.load(run / "test_labels.npy")
    assert emb.dtype == np.float32 and labels.dtype == np.int64 and len(emb) == len(labels)
    assert sorted(set(labels.tolist())) == [5, 6, 7, 8, 9]  # digits' original test class ids
    split = json.loads((run / "split.json").read_text())
    assert (split["train"], split["val"], split["test"]) == ([0, 1, 2], [3, 4], [5, 6, 7, 8, 9])
    assert split["data"] == "digits" and "fold" not in split
    metrics = json.loads((run / "metrics.json").read_text())
    found = retrieval_metrics(emb, labels)
    for key in ("precision@1", "r_precision", "map@r"):
        assert found[key] == pytest.approx(metrics[f"test/{key}"], abs=1e-9)


def test_kfold_run_records_its_fold(make_cfg, tmp_path):
    train(make_cfg("logger=csv", "protocol=kfold", "protocol.folds=2", "protocol.fold=1"))
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    # digits: 5 training classes, 2 folds of 2; fold 1 validates on positions 2, 3
    assert (split["train"], split["val"]) == ([0, 1, 4], [2, 3])
    assert (split["folds"], split["fold"]) == (2, 1)
