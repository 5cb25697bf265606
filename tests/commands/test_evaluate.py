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
from cli import error_lines, last_line, run_script

from metriclab.commands import app, evaluate
from metriclab.deployment.loading import open_run
from metriclab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def options(**kwargs) -> dict:
    return {**app.defaults("eval"), "progress": False, "device": "cpu", **kwargs}


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


def test_help_lists_the_settings_and_writes_nothing(tmp_path: Path) -> None:
    result = run_script("eval", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("python scripts/eval.py ckpt_path=RUN [key=value ...]")
    for line in ("ckpt_path: null", "split: test", "save_embeddings: false", "openset: false"):
        assert line in result.stdout.splitlines(), line
    assert list(tmp_path.iterdir()) == []


def test_a_mistake_is_one_line_and_leaves_no_folder(tmp_path: Path) -> None:
    unknown = run_script("eval", "ckpt_path=RUN", "splt=val", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        "error: splt: no such setting of eval.py nor of train.py (the run's config); the "
        f"settings are {', '.join(app.defaults('eval'))}; did you mean split?"
    ]
    typed = run_script("eval", "ckpt_path=RUN", "save_embeddings=maybe", cwd=tmp_path)
    assert typed.returncode == 2 and error_lines(typed) == [last_line(typed.stderr)]
    assert last_line(typed.stderr) == "error: save_embeddings=maybe: expected true or false"
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra, no log: Hydra ran in place


def test_documented_overrides_reach_the_runs_config(digits_run: Path, tmp_path: Path) -> None:
    """``data=cub data.root=DIR`` (docs/serving.md) swaps the run's data config for CUB's and
    sets its root; ``data.name=...`` alone sets one value of the run's own data config."""
    missing = tmp_path / "no_cub"
    cub = run_script("eval", f"ckpt_path={digits_run}", "data=cub", f"data.root={missing}")
    assert cub.returncode == 2 and error_lines(cub) == [last_line(cub.stderr)]
    assert str(missing) in last_line(cub.stderr) and "CUB_200_2011" in last_line(cub.stderr)
    argv = ["nmi=false", "progress=false", "device=cpu", "data.name=renamed"]
    renamed = run_script("eval", f"ckpt_path={digits_run}", *argv, cwd=tmp_path)
    assert renamed.returncode == 0, renamed.stderr[-2000:]
    written = json.loads((digits_run / "eval" / "best-renamed-test" / "metrics.json").read_text())
    assert (
        written["test/recall@1"]
        == json.loads((digits_run / "metrics.json").read_text())["test/recall@1"]
    )
    assert list(tmp_path.iterdir()) == []  # nothing written where it ran
