"""Compare the runs under a run or sweep directory: ``python scripts/report.py DIR [--metric M]``.

Every directory under DIR with ``.hydra/config.yaml`` is a run. For each it reads the overrides
(``.hydra/overrides.yaml``), ``status.json`` (completed / failed + error), ``metrics.json`` (test
metrics, best epoch, training time) and the best value of the optimized metric (``status.json``,
else the CSV log, else the TensorBoard events). It writes into DIR:

- ``report.csv``: one row per run, every column;
- ``report.md``: the same as a Markdown table (overrides shared by every run listed above it);
- ``report.png``: test Recall@1 and MAP@R per run, one panel each, on axes zoomed to the values
  (the zoom is said on the axis), run labels wrapped, nothing cut off (matplotlib; a plain PIL
  bar chart of Recall@1 when matplotlib is missing).

Rows are sorted by the optimized metric (best first; failed runs last). Runs of
``protocol=kfold`` or of several seeds also get the reality check of
:mod:`metriclab.runs.reality_check` (``reality_check.{md,csv,tex,png}``, ``paired.csv``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from metriclab.runs.liveness import run_state

SKIPPED = ("hydra.", "paths.", "hydra/")
CHART_METRIC = "test/recall@1"
CHART_PANELS = ("test/recall@1", "test/map@r")
TEST_ORDER = [f"test/{m}" for m in ("recall@1", "recall@2", "recall@4", "recall@8")] + [
    f"test/{m}" for m in ("precision@1", "r_precision", "map@r", "nmi")
]


def natural_key(path: Path) -> list[Any]:
    """``multirun/x/10`` after ``multirun/x/9``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def find_runs(root: Path) -> list[Path]:
    """Run directories under ``root`` (``root`` itself when it is a run)."""
    return sorted((p.parent.parent for p in root.rglob(".hydra/config.yaml")), key=natural_key)


def load(path: Path, default: Any = None) -> Any:
    """JSON or YAML file content, ``default`` when missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return default


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


def zoomed_range(values: list[float]) -> tuple[float, float]:
    """An axis range around ``values`` inside ``[0, 1]``: the spread plus 25% on each side
    (at least 0.02), so 0.984 and 0.987 do not look equal."""
    low, high = min(values), max(values)
    pad = max(0.02, 0.25 * (high - low))
    return max(0.0, low - pad), min(1.0, high + pad)


def write_png(path: Path, rows: list[dict[str, Any]]) -> None:
    """One panel per metric of :data:`CHART_PANELS` (best run on top): a dot per run with its
    value written beside it, on an axis zoomed to the values; failed runs are named, not drawn."""
    import textwrap

    _, _, shared = table(rows)
    labels = ["\n".join(textwrap.wrap(chart_label(r, shared), 38)) or r["run"] for r in rows]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        values = [float(r["test"].get(CHART_METRIC) or 0.0) for r in rows]
        notes = [
            f"{v:.3f}" if r["status"] == "completed" else r["status"]
            for r, v in zip(rows, values, strict=True)
        ]
        return write_png_pil(path, [chart_label(r, shared) for r in rows], values, notes)
    lines = sum(label.count("\n") + 1 for label in labels)
    fig, axes = plt.subplots(
        1, len(CHART_PANELS), figsize=(12, 1.6 + 0.32 * lines + 0.25 * len(rows)), sharey=True
    )
    ys = list(range(len(rows)))
    for ax, metric in zip(axes, CHART_PANELS, strict=True):
        values = [r["test"].get(metric) for r in rows]
        shown = [float(v) for v in values if v is not None]
        low, high = zoomed_range(shown) if shown else (0.0, 1.0)
        for y, value, row in zip(ys, values, rows, strict=True):
            if value is None:
                ax.text(low, y, f"  {row['status']}", va="center", fontsize=10, color="#b02020")
                continue
            ax.hlines(y, low, value, color="#9ab8d8", linewidth=2)
            ax.plot(value, y, "o", color="tab:blue", markersize=8)
            ax.annotate(
                f"{value:.3f}",
                (value, y),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=10,
            )
        ax.set_xlim(low, high + 0.12 * (high - low))  # room for the value labels
        ax.set_yticks(ys, labels, fontsize=10)
        ax.grid(axis="x", color="#dddddd")
        ax.set_title(metric, fontsize=12)
        ax.set_xlabel(f"{metric} (axis zoomed: {low:.3f} to {high:.3f})", fontsize=10)
        ax.tick_params(axis="x", labelsize=10)
    axes[0].set_ylim(len(rows) - 0.5, -0.5)  # the best run on top (the y axis is shared)
    title = f"Test metrics per run, best {main_metric(rows)} on top"
    if shared:
        title += "\n" + "\n".join(
            textwrap.wrap("shared: " + " ".join(f"{k}={v}" for k, v in shared.items()), 110)
        )
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.2)  # nothing cut off
    plt.close(fig)


def write_png_pil(path: Path, labels: list[str], values: list[float], notes: list[str]) -> None:
    from PIL import Image, ImageDraw

    left, bar_w, row_h = 360, 400, 22
    image = Image.new("RGB", (left + bar_w + 80, 30 + row_h * len(labels)), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), f"{CHART_METRIC} per run", fill="black")
    for i, (label, value, note) in enumerate(zip(labels, values, notes, strict=True)):
        y = 30 + i * row_h
        draw.text((10, y + 4), label[:55], fill="black")
        draw.rectangle([left, y + 3, left + int(bar_w * value), y + row_h - 3], fill=(31, 119, 180))
        draw.text((left + int(bar_w * value) + 4, y + 4), note, fill="black")
    image.save(path)


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
