"""``scripts/report.py`` (:mod:`metriclab.runs.compare`) on hand-made run directories: rows,
sorting, failures, files written."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from metriclab.runs import compare as report

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "report.py"


def make_run(
    path: Path,
    overrides: list[str],
    status: dict | None = None,
    metrics: dict | None = None,
    csv_rows: list[dict] | None = None,
) -> Path:
    """A run directory as ``train.py`` leaves it (only the files the report reads)."""
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "config.yaml").write_text("optimized_metric: val/recall@1\nseed: 1\n")
    (path / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if status is not None:
        (path / "status.json").write_text(json.dumps(status))
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(metrics))
    if csv_rows:
        (path / "csv").mkdir()
        with (path / "csv" / "metrics.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(csv_rows[0]))
            writer.writeheader()
            writer.writerows(csv_rows)
    return path


def metrics_of(r1: float) -> dict:
    """``metrics.json`` of a run whose test Recall@1 is ``r1``."""
    return {"test/recall@1": r1, "test/map@r": r1 / 2, "best_epoch": 3, "train_time_s": 9.5}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Four jobs: two completed (val 0.8 and 0.9), one failed, one with only a CSV log."""
    root = tmp_path / "sweep"
    common = ["trainer.max_epochs=1", "paths.log_dir=/somewhere"]
    make_run(
        root / "0",
        ["loss=contrastive", *common],
        {"status": "completed", "optimized_metric": "val/recall@1", "value": 0.8},
        metrics_of(0.70),
    )
    make_run(
        root / "1",
        ["loss=triplet", *common],
        {"status": "failed", "error": "ConfigError: data.batch_size=50 | bad"},
    )
    make_run(
        root / "2",
        ["loss=circle", *common],
        {"status": "completed", "optimized_metric": "val/recall@1", "value": 0.9},
        metrics_of(0.75),
    )
    make_run(
        root / "10",
        ["loss=multisim", *common],
        metrics=metrics_of(0.60),
        csv_rows=[{"epoch": 0, "val/recall@1": 0.5}, {"epoch": 1, "val/recall@1": 0.85}],
    )
    return root


def test_rows_sorted_by_the_optimized_metric_with_failures_last(sweep):
    rows = report.report(sweep)
    assert [r["run"] for r in rows] == ["2", "10", "0", "1"]
    assert [r["value"] for r in rows][:3] == [0.9, 0.85, 0.8]  # "10": best of its CSV log
    assert rows[1]["status"] == "completed"  # metrics.json and no status.json
    assert rows[3]["status"] == "failed" and "batch_size=50" in rows[3]["error"]
    assert rows[0]["overrides"] == {"loss": "circle", "trainer.max_epochs": "1"}


def test_markdown_lists_every_run_and_the_shared_overrides(sweep):
    report.report(sweep)
    text = (sweep / "report.md").read_text()
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header, body = lines[0], lines[1:]
    assert "| run | status | loss | best val/recall@1 | test/recall@1 | test/map@r |" in header
    assert "trainer.max_epochs" not in header and "`trainer.max_epochs=1`" in text
    assert "paths.log_dir" not in text
    assert [line.split("|")[1].strip() for line in body] == ["2", "10", "0", "1"]
    assert "| 0.9000 | 0.7500 | 0.3750 | 3 | 9.5 |" in body[0]
    assert "failed" in body[3] and "data.batch_size=50 \\| bad" in body[3]
    assert "4 runs (3 completed, 1 failed)" in text


def test_csv_has_one_row_per_run_and_every_column(sweep):
    report.report(sweep)
    with (sweep / "report.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["2", "10", "0", "1"]
    assert rows[0]["trainer.max_epochs"] == "1" and rows[0]["test/recall@1"] == "0.75"
    assert rows[3]["test/recall@1"] == "" and rows[3]["status"] == "failed"


def test_png_is_a_chart(sweep):
    report.report(sweep)
    with Image.open(sweep / "report.png") as image:
        assert image.format == "PNG" and image.width >= 300 and image.height >= 100


def test_a_single_run_directory_is_a_report_of_one(tmp_path):
    run = make_run(
        tmp_path / "run", ["loss=circle"], {"status": "completed", "value": 0.7}, metrics_of(0.5)
    )
    rows = report.report(run)
    assert len(rows) == 1 and rows[0]["run"] == "." and rows[0]["test"]["test/recall@1"] == 0.5


def test_command_line_prints_the_table_and_refuses_an_empty_directory(sweep, tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(sweep)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "| 2 | completed | circle |" in done.stdout and (sweep / "report.csv").is_file()
    empty = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert empty.returncode != 0 and empty.stderr.strip().startswith("error: no run under")


def test_chart_has_a_recall_and_a_map_panel_and_long_labels_fit(tmp_path, monkeypatch):
    import matplotlib.figure

    long = "miner=" + "a_very_long_option_name_" * 6
    make_run(tmp_path / "0", ["loss=circle", long], {"status": "completed"}, metrics_of(0.9))
    make_run(tmp_path / "1", ["loss=triplet", long + "b"], {"status": "completed"}, metrics_of(0.8))
    saved = {}
    original = matplotlib.figure.Figure.savefig

    def spy(fig, path, **kwargs):
        saved["titles"] = [ax.get_title() for ax in fig.axes]
        saved["labels"] = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        saved["bbox"] = kwargs.get("bbox_inches")
        return original(fig, path, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    report.report(tmp_path)
    assert saved["titles"] == ["test/recall@1", "test/map@r"]
    assert saved["bbox"] == "tight"  # the canvas grows to hold every label
    assert all(max(len(line) for line in label.split("\n")) <= 38 for label in saved["labels"])
    assert all(label.count("\n") >= 2 for label in saved["labels"])  # wrapped, not cut
