"""``scripts/eval.py``: a checkpoint re-evaluated equals the run's own test metrics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from metriclab.commands import evaluate
from metriclab.deployment.loading import open_run
from metriclab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def options(**kwargs) -> dict:
    return {**evaluate.OPTIONS, "progress": False, "device": "cpu", **kwargs}


def test_eval_reproduces_the_runs_test_metrics(digits_run: Path) -> None:
    trained = json.loads((digits_run / "metrics.json").read_text())
    run = open_run(str(digits_run / "checkpoints" / "best.ckpt"))
    metrics, out = evaluate.evaluate_run(run, options(save_embeddings=True))
    assert out == digits_run / "eval" / "best-digits-test"
    written = json.loads((out / "metrics.json").read_text())
    assert written == metrics
    for key, value in trained.items():
        if key.startswith("test/"):
            assert metrics[key] == pytest.approx(value, abs=1e-6), key
    assert 0.0 <= metrics["test/ami"] <= 1.0
    emb = np.load(out / "test_embeddings.npy")
    labels = np.load(out / "test_labels.npy")
    items = json.loads((out / "test_items.json").read_text())
    assert emb.shape == (len(labels), 16) and emb.dtype == np.float32
    assert len(items) == len(labels) and items[0] == "test/0"
    assert json.loads((digits_run / "metrics.json").read_text()) == trained  # not clobbered


def test_split_and_config_overrides(digits_run: Path, tmp_path: Path) -> None:
    run = open_run(str(digits_run), ["data=digits", "data.val_classes=3", "+extra.flag=true"])
    assert run.ckpt.name == "best.ckpt" and run.cfg.data.val_classes == 3
    assert run.cfg.extra.flag is True
    metrics, out = evaluate.evaluate_run(run, options(split="val", nmi=False, out=str(tmp_path)))
    assert out == tmp_path and "val/recall@1" in metrics and "val/nmi" not in metrics
    with pytest.raises(ConfigError, match="data=nope: no config .* choose one of .*digits"):
        open_run(str(digits_run), ["data=nope"])
    with pytest.raises(ConfigError, match="split=query: the data has no query split"):
        evaluate.evaluate_run(run, options(split="query"))


def test_one_line_errors(digits_run: Path, tmp_path: Path, capsys) -> None:
    assert evaluate.main([f"ckpt_path={tmp_path / 'missing.ckpt'}"]) == 2
    assert "error: ckpt_path=" in capsys.readouterr().err
    loose = tmp_path / "loose.ckpt"
    shutil.copy(digits_run / "checkpoints" / "best.ckpt", loose)
    assert evaluate.main([f"ckpt_path={loose}"]) == 2
    assert "no .hydra/config.yaml found above checkpoint" in capsys.readouterr().err
    assert evaluate.main(["split=test"]) == 2
    assert "no checkpoint given" in capsys.readouterr().err
    assert evaluate.main([f"ckpt_path={digits_run}", "save_embeddings=maybe"]) == 2
    assert "save_embeddings=maybe: expected true or false" in capsys.readouterr().err


def test_script_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "eval.py"), f"ckpt_path={tmp_path}/none.ckpt"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: ckpt_path={tmp_path}/none.ckpt: no checkpoint file there; pass an existing "
        ".ckpt file, e.g. outputs/runs/DATE/TIME/checkpoints/best.ckpt"
    ]
