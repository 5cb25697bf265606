"""``scripts/export.py calibrate=DIR`` -> ``scripts/predict.py``: the threshold and its curve land
in index.json, and every answer is the calibrated decision (a class, or ``unknown`` below it)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from openset_folders import folders_fixture  # noqa: F401  (the "folders" fixture)

from metriclab.commands import export, predict
from metriclab.deployment.index import load_index

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def calibrated(digits_run: Path, folders, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("calibrated")
    argv = [
        f"ckpt_path={digits_run}",
        f"gallery={folders['enrolled']}",
        f"out={out}",
        f"calibrate={folders['calib']}",
        "target_precision=0.8",
        "onnx=false",
        "progress=false",
    ]
    assert export.main(argv) == 0
    return out


def test_the_threshold_and_its_curve_are_stored(calibrated: Path, folders) -> None:
    _, meta = load_index(calibrated)
    block = meta.classifier
    assert block["method"] == "knn" and block["k"] == 5 and block["target"] == {"precision": 0.8}
    got = block["calibration"]
    assert got["n_queries"] == 3 * 30 + len(list((folders["calib"] / "8").glob("*.png")))
    assert got["n_unknown"] == got["n_queries"] - 90
    assert got["precision"] >= 0.8 or got["coverage"] == 0.0
    curve = block["curve"]
    assert len(curve["threshold"]) == len(curve["coverage"]) == len(curve["precision"]) <= 200
    assert curve["threshold"] == sorted(curve["threshold"], reverse=True)
    assert (calibrated / "centroids.npy").is_file()


@pytest.mark.slow
def test_predict_cli_answers_the_calibrated_decision(calibrated: Path, folders, tmp_path) -> None:
    out = tmp_path / "pred"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "predict.py"),
            f"index={calibrated}",
            f"query={folders['queries']}",
            f"out={out}",
            "progress=false",
            "thumbnail=24",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    _, meta = load_index(calibrated)
    threshold = meta.classifier["threshold"]
    n = len(list(folders["queries"].rglob("*.png")))
    assert f"answered with a class (knn, k=5, threshold {threshold:.4f})" in result.stdout
    answered = [
        r for r in csv.DictReader(open(out / "predictions.csv")) if r["answer"] != "unknown"
    ]
    precision = np.mean([r["answer"] == r["truth"] for r in answered]) if answered else 1.0
    assert f"precision of the {len(answered)} answered {precision:.4f}" in result.stdout
    rows = list(csv.DictReader(open(out / "predictions.csv", encoding="utf-8")))
    assert len(rows) == n == len(list(out.glob("*.png")))
    for row in rows:
        accepted = float(row["confidence"]) >= threshold - 1e-6
        assert row["answer"] == (row["class"] if accepted else "unknown")
        assert row["class"] in ("5", "6", "7")
        want = "unknown" if "/9/" in row["query"] else Path(row["query"]).parent.name
        assert row["truth"] == want
    saved = json.loads((out / "predictions.json").read_text())
    assert saved["threshold"] == threshold and len(saved["predictions"][0]["neighbours"]) == 5
    nines = [r for r in rows if "/9/" in r["query"]]
    known = [r for r in rows if "/9/" not in r["query"]]
    assert np.mean([r["answer"] == "unknown" for r in nines]) > np.mean(
        [r["answer"] == "unknown" for r in known]
    )  # strangers are rejected more often than enrolled classes


def test_centroid_and_threshold_options(calibrated: Path, folders, tmp_path, capsys) -> None:
    query = str(folders["queries"] / "6")
    options = {**predict.OPTIONS, "index": str(calibrated), "query": query, "out": str(tmp_path)}
    rows = predict.predict(
        {
            **options,
            "classifier": "centroid",
            "threshold": "none",
            "pictures": False,
            "progress": False,
        }
    )
    assert all(r["accepted"] for r in rows) and np.mean([r["answer"] == "6" for r in rows]) > 0.5
    assert predict.main([f"index={calibrated}", f"query={query}", "classifier=centroid"]) == 2
    assert "calibrated for classifier=knn k=5" in capsys.readouterr().err
    assert predict.main([f"index={calibrated}", f"query={query}", "threshold=high"]) == 2
    assert "threshold=high: expected auto, none or a number" in capsys.readouterr().err


@pytest.mark.slow
def test_centroid_temperature_auto_keeps_the_confidence_with_most_answers(
    digits_run: Path, folders, tmp_path, capsys
) -> None:
    argv = [
        f"ckpt_path={digits_run}",
        f"gallery={folders['enrolled']}",
        f"calibrate={folders['calib']}",
        "classifier=centroid",
        "target_precision=0.8",
        "onnx=false",
        "progress=false",
    ]
    assert export.main([*argv, f"out={tmp_path / 'auto'}"]) == 0
    assert "chosen of auto by calibration answers: T=0.0 " in capsys.readouterr().out
    block = load_index(tmp_path / "auto")[1].classifier
    choices = block["choices"]
    assert set(choices) == {"0.0", "0.02", "0.05", "0.1", "0.2"}
    assert block["calibration"]["n_accepted"] == max(choices.values())
    assert choices[str(block["temperature"])] == max(choices.values())
    for t, answers in choices.items():  # each is what a fixed temperature calibrates to
        assert export.main([*argv, f"temperature={t}", f"out={tmp_path / t}"]) == 0
        fixed = load_index(tmp_path / t)[1].classifier
        assert fixed["calibration"]["n_accepted"] == answers and "choices" not in fixed
    assert export.main([*argv, "temperature=-1", f"out={tmp_path / 'bad'}"]) == 2
    assert "temperature=-1: use auto, 0" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # refused before anything is written
