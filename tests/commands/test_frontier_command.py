"""``scripts/frontier.py``: every operating point of a run's model, written where users look."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli import error_lines, last_line, run_script

from metriclab.commands import app, frontier
from metriclab.deployment.loading import open_run

ROOT = Path(__file__).resolve().parents[2]


def test_frontier_of_a_run(digits_run: Path, tmp_path: Path) -> None:
    trained = json.loads((digits_run / "metrics.json").read_text())
    run = open_run(str(digits_run))
    options = {**app.defaults("frontier"), "progress": False, "device": "cpu", "dims": [8, 16]}
    points, out = frontier.frontier_run(run, {**options, "out": str(tmp_path / "f")})
    assert {p.dims for p in points} == {8, 16}
    exact = next(p for p in points if (p.dims, p.code, p.index) == (16, "fp32", "flat"))
    assert exact.metrics["recall@1"] == pytest.approx(trained["test/recall@1"], abs=1e-6)
    assert exact.metrics["map@r"] == pytest.approx(trained["test/map@r"], abs=1e-3)
    saved = json.loads((out / "frontier.json").read_text())
    assert len(saved["points"]) == len(points) and any(p["pareto"] for p in saved["points"])
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "frontier.md").read_text().splitlines()
    assert table[0].startswith("| dims | code | index") and len(table) == 2 + len(points)
    assert (out / "frontier.csv").read_text().count("\n") == 1 + len(points)
    events = list((digits_run / "tensorboard" / "frontier").glob("events.out.tfevents.*"))
    assert events, "no TensorBoard event file"


def test_bad_dims_is_one_error_line(digits_run: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "frontier.py"),
            f"ckpt_path={digits_run}",
            "dims=[8,99]",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        "error: dims=[8,99]: 99 is not a prefix of the 16-d embedding; use 1..16"
    ]


def test_help_and_an_unknown_setting(tmp_path: Path) -> None:
    shown = run_script("frontier", "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for line in ("ckpt_path: null", "dims: null", "threads: 0", "tensorboard: true"):
        assert line in shown.stdout.splitlines(), line
    comma = run_script("frontier", "ckpt_path=RUN", "dims=8,16", cwd=tmp_path)
    assert comma.returncode == 2 and error_lines(comma) == [last_line(comma.stderr)]
    assert "dims=8,16: a list of values is a sweep" in last_line(comma.stderr)
    typo = run_script("frontier", "ckpt_path=RUN", "thread=2", cwd=tmp_path)
    assert typo.returncode == 2 and error_lines(typo) == [last_line(typo.stderr)]
    assert last_line(typo.stderr).endswith("; did you mean threads?")
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra
