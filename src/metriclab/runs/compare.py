"""Compare the runs under a run or sweep directory: ``python scripts/report.py DIR [--metric M]``.

Every directory under DIR with ``.hydra/config.yaml`` is a run. For each it reads the overrides
(``.hydra/overrides.yaml``), ``status.json`` (completed / failed + error), ``metrics.json`` (test
metrics, best epoch, training time) and the best value of the optimized metric (``status.json``,
else the CSV log, else the TensorBoard events). It writes into DIR:

- ``report.csv``: one row per run, every column;
- ``report.md``: the same as a Markdown table (overrides shared by every run listed above it);
- ``report.png``: test Recall@1 and MAP@R per run, one panel each, on axes zoomed to the values
  (the zoom is said on the axis), run labels wrapped, nothing cut off (drawn by
  :func:`metriclab.pictures.report_charts.metric_dots`).

Rows are sorted by the optimized metric (best first; failed runs last). Runs of
``protocol=kfold`` or of several seeds also get the reality check of
:mod:`metriclab.runs.reality_check` (``reality_check.{md,csv,tex,png}``, ``paired.csv``).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from metriclab.pictures.report_charts import metric_dots
from metriclab.runs.found import SKIPPED, find_runs, load, natural_key
from metriclab.runs.liveness import run_state

CHART_METRIC = "test/recall@1"
CHART_PANELS = ("test/recall@1", "test/map@r")
TEST_ORDER = [f"test/{m}" for m in ("recall@1", "recall@2", "recall@4", "recall@8")] + [
    f"test/{m}" for m in ("precision@1", "r_precision", "map@r", "nmi")
]


def best_from_logs(run: Path, metric: str) -> float | None:
    """The highest logged value of ``metric`` in ``csv/metrics.csv`` or the TensorBoard events."""
    values: list[float] = []
    for table in run.glob("csv*/**/metrics.csv"):
        with table.open(newline="") as f:
            values += [float(r[metric]) for r in csv.DictReader(f) if r.get(metric)]
    if not values and (run / "tensorboard").is_dir():
        try:
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        except ImportError:
            return None
        for events in (run / "tensorboard").rglob("events.out.tfevents.*"):
            acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
            acc.Reload()
            if metric in acc.Tags().get("scalars", []):
                values += [e.value for e in acc.Scalars(metric)]
    return max(values) if values else None


def read_run(run: Path, root: Path, metric: str | None = None) -> dict[str, Any]:
    """One row: run, status, the overrides, best validation metric, test metrics, epoch, time."""
    config = load(run / ".hydra" / "config.yaml", {}) or {}
    status = load(run / "status.json", {}) or {}
    metrics = load(run / "metrics.json", {}) or {}
    metric = metric or config.get("optimized_metric") or "val/recall@1"
    overrides = {}
    for text in load(run / ".hydra" / "overrides.yaml", []) or []:
        key, _, value = str(text).lstrip("+~").partition("=")
        if not key.startswith(SKIPPED):
            overrides[key] = value
    value = status.get("value") if status.get("optimized_metric", metric) == metric else None
    if value is None and status.get("status") != "failed":
        value = best_from_logs(run, metric)
    state = run_state(status) if status else ("completed" if metrics else "unknown")
    row = {"run": run.relative_to(root).as_posix() if run != root else ".", "status": state}
    row.update(overrides=overrides, metric=metric, value=value)
    row["test"] = {k: v for k, v in metrics.items() if k.startswith("test/")}
    row["best_epoch"] = metrics.get("best_epoch")
    row["time_s"] = metrics.get("train_time_s", status.get("time_s"))
    row["error"] = status.get("error", "")
    return row


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best optimized metric first; runs without a value (failed, running) last."""

    def key(row: dict[str, Any]) -> tuple:
        value = row["value"]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        return (missing, -(value or 0.0) if not missing else 0.0, natural_key(Path(row["run"])))

    return sorted(rows, key=key)


def main_metric(rows: list[dict[str, Any]]) -> str:
    """The optimized metric most runs name (``val/recall@1`` by default)."""
    return Counter(r["metric"] for r in rows).most_common(1)[0][0] if rows else "val/recall@1"


def table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]], dict[str, str]]:
    """Header, cells and the overrides every run shares (left out of the Markdown table)."""
    keys = list(dict.fromkeys(k for r in rows for k in r["overrides"]))
    first = rows[0]["overrides"] if rows else {}
    shared = {
        k: first[k]
        for k in keys
        if len(rows) > 1 and all(r["overrides"].get(k) == first.get(k) for r in rows)
    }
    found = {k for r in rows for k in r["test"]}
    tests = [k for k in TEST_ORDER if k in found] + sorted(found - set(TEST_ORDER))
    header = ["run", "status", *keys, f"best {main_metric(rows)}", *tests, "best_epoch"]
    header += ["time_s", "error"]
    cells = [
        [r["run"], r["status"], *(r["overrides"].get(k, "") for k in keys), r["value"]]
        + [r["test"].get(k) for k in tests]
        + [r["best_epoch"], r["time_s"], r["error"]]
        for r in rows
    ]
    return header, cells, shared


def fmt(value: Any, width: int | None = None, digits: int = 4) -> str:
    """A cell: floats with 4 decimals, one line, ``|`` escaped, cut to ``width`` characters."""
    if value is None:
        return ""
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    if isinstance(value, str) and len(value) > 8 and re.fullmatch(r"-?[\d.]+(e-?\d+)?", value):
        text = f"{float(value):.4g}"  # a sampled 0.12323344486727979 -> 0.1232
    text = " ".join(text.split()).replace("|", "\\|")
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def markdown(root: Path, rows: list[dict[str, Any]]) -> str:
    """``report.md``: a summary line, the shared overrides, Optuna's best trial, the table."""
    header, cells, shared = table(rows)
    keep = [i for i, h in enumerate(header) if h not in shared]
    counts = ", ".join(f"{n} {state}" for state, n in Counter(r["status"] for r in rows).items())
    lines = [f"# Runs under `{root}`", ""]
    lines.append(f"{len(rows)} runs ({counts}), sorted by the best {main_metric(rows)}.")
    if shared:
        lines.append("Shared overrides: " + " ".join(f"`{k}={v}`" for k, v in shared.items()))
    results = load(root / "optimization_results.yaml")
    if isinstance(results, dict) and "best_params" in results:
        best = " ".join(f"`{k}={v}`" for k, v in results["best_params"].items())
        lines.append(f"Optuna's best trial ({fmt(results.get('best_value'))}): {best}")
    lines += ["", "| " + " | ".join(header[i] for i in keep) + " |"]
    lines.append("|" + "|".join("---" for _ in keep) + "|")
    for row in cells:
        cells_md = (fmt(row[i], 60, 1 if header[i] == "time_s" else 4) for i in keep)
        lines.append("| " + " | ".join(cells_md) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    header, cells, _ = table(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([["" if c is None else c for c in row] for row in cells])


def chart_label(row: dict[str, Any], shared: dict[str, str]) -> str:
    varying = " ".join(f"{k}={v}" for k, v in row["overrides"].items() if k not in shared)
    return f"{row['run']}: {varying}" if varying else row["run"]


def write_png(path: Path, rows: list[dict[str, Any]]) -> None:
    """One panel per metric of :data:`CHART_PANELS` (best run on top): a dot per run with its
    value written beside it, on an axis zoomed to the values; failed runs are named, not drawn
    (:func:`metriclab.pictures.report_charts.metric_dots`)."""
    _, _, shared = table(rows)
    metric_dots(
        path,
        [chart_label(r, shared) for r in rows],
        {metric: [r["test"].get(metric) for r in rows] for metric in CHART_PANELS},
        [r["status"] for r in rows],
        f"Test metrics per run, best {main_metric(rows)} on top",
        "shared: " + " ".join(f"{k}={v}" for k, v in shared.items()) if shared else "",
    )


def report(root: Path, metric: str | None = None) -> list[dict[str, Any]]:
    """Write ``report.md``, ``report.csv`` and ``report.png`` into ``root``; return the rows."""
    runs = find_runs(root)
    if not runs:
        raise SystemExit(
            f"error: no run under {root} (a run has .hydra/config.yaml); pass a run "
            "or sweep directory such as outputs/multirun/DATE/TIME"
        )
    rows = sort_rows([read_run(run, root, metric) for run in runs])
    (root / "report.md").write_text(markdown(root, rows), encoding="utf-8")
    write_csv(root / "report.csv", rows)
    write_png(root / "report.png", rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``scripts/report.py``: write the report of ``DIR`` and print its Markdown table."""
    parser = argparse.ArgumentParser(prog="scripts/report.py", description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="a run or sweep directory")
    parser.add_argument(
        "--metric", help="sort by this metric (default: the runs' optimized_metric)"
    )
    args = parser.parse_args(argv)
    from metriclab.errors import ConfigError
    from metriclab.runs import reality_check

    try:  # folds or seeds: the reality check (checked first: nothing written when refused)
        checked = reality_check.applies(args.dir) and reality_check.build_report(args.dir)
    except ConfigError as error:
        print(str(error) if str(error).startswith("error:") else f"error: {error}")
        return 2
    report(args.dir, args.metric)
    print((args.dir / "report.md").read_text(encoding="utf-8"))
    print(f"wrote {args.dir / 'report.md'}, report.csv, report.png")
    if checked:
        reality_check.write_reality_check(args.dir, checked)
        print((args.dir / "reality_check.md").read_text(encoding="utf-8"))
        print(f"wrote {args.dir / 'reality_check.md'}, .csv, .tex, .png, paired.csv")
    return 0
