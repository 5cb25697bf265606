"""``scripts/predict.py`` over an export without a calibrated threshold says, as the last line
of every summary, that no rejection is active and how to calibrate one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli import last_line, run_script

from metriclab.commands import export, predict


@pytest.fixture(scope="module")
def uncalibrated(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("predict_plain") / "export"
    options = ["onnx=false", "progress=false", f"out={out}"]
    assert export.main([f"ckpt_path={digits_run}", *options]) == 0
    return out


def test_the_summary_says_no_rejection_is_active(uncalibrated: Path, tmp_path: Path) -> None:
    query = sorted((uncalibrated / "gallery" / "8").glob("*.png"))[0]
    out = tmp_path / "p"
    result = run_script(
        "predict",
        f"index={uncalibrated}",
        f"query={query}",
        f"out={out}",
        "pictures=false",
        "progress=false",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert last_line(result.stdout) == predict.NO_REJECTION.format(
        why="the index has no calibrated threshold"
    )
    assert "export with calibrate=DIR" in last_line(result.stdout)
    saved = json.loads((out / "predictions.json").read_text())
    assert saved["rejection"] is False and saved["predictions"][0]["truth"] == "8"


def test_threshold_none_says_so_and_a_threshold_does_not(
    uncalibrated: Path, tmp_path: Path, capsys
) -> None:
    query = str(sorted((uncalibrated / "gallery" / "5").glob("*.png"))[0])
    base = [f"index={uncalibrated}", f"query={query}", "pictures=false", "progress=false"]
    assert predict.main([*base, "threshold=none", f"out={tmp_path / 'a'}"]) == 0
    assert last_line(capsys.readouterr().out) == predict.NO_REJECTION.format(why="threshold=none")
    assert predict.main([*base, "threshold=0.5", f"out={tmp_path / 'b'}"]) == 0
    assert "no rejection" not in capsys.readouterr().out
    assert predict.main([*base, "k=-1"]) == 2
    assert "k=-1: expected 0 (the calibrated k, else 5) or more" in capsys.readouterr().err


def test_the_export_says_it_has_no_threshold(digits_run: Path, tmp_path: Path, capsys) -> None:
    options = ["onnx=false", "progress=false", f"out={tmp_path / 'e'}"]
    assert export.main([f"ckpt_path={digits_run}", *options]) == 0
    assert last_line(capsys.readouterr().out) == export.NO_THRESHOLD
