"""``scripts/eval.py openset=true``: the recognition keys, their plot, and a user mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from metriclab.commands import evaluate
from metriclab.recognition.metrics import recognition_metrics

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_eval_openset_cli(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "eval.py"),
            f"ckpt_path={digits_run}",
            "openset=true",
            "nmi=false",
            "progress=false",
            "save_embeddings=true",
            f"out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    emb, labels = np.load(out / "test_embeddings.npy"), np.load(out / "test_labels.npy")
    seed = OmegaConf.load(digits_run / ".hydra" / "config.yaml").seed  # eval uses the run's
    want, _ = recognition_metrics(emb, labels, seed=seed)
    assert {k: metrics[f"test/{k}"] for k in want} == pytest.approx(want)
    for key in (
        "closed/knn_acc@1",
        "closed/centroid_acc@all",
        "openset/knn_auroc",
        "openset/precision",
        "verify/tar@far=0.001",
    ):
        assert 0.0 <= metrics[f"test/{key}"] <= 1.0
    assert "test/recall@1" in metrics and "test/openset/threshold" in result.stdout
    assert Image.open(out / "precision_coverage.png").size == (500, 400)


def test_eval_openset_errors(digits_run: Path, capsys) -> None:
    assert (
        evaluate.main(
            [
                f"ckpt_path={digits_run}",
                "openset=true",
                "openset_enroll=500",
                "nmi=false",
                "progress=false",
            ]
        )
        == 2
    )
    assert "openset_enroll=500: a class of split=test has only" in capsys.readouterr().err
    base = [f"ckpt_path={digits_run}", "openset=true", "nmi=false", "progress=false"]
    assert evaluate.main([*base, "openset_classifier=centroid", "openset_temperature=-1"]) == 2
    assert "openset_temperature=-1: use auto, 0" in capsys.readouterr().err


def test_eval_openset_temperature_auto(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "auto"
    argv = [f"ckpt_path={digits_run}", "openset=true", "nmi=false", "progress=false"]
    argv += ["openset_classifier=centroid", "openset_temperature=auto", f"out={out}"]
    assert evaluate.main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test/openset/temperature"] in (0.0, 0.02, 0.05, 0.1, 0.2)
