"""The charts of ``scripts/report.py``: runs side by side (matplotlib, written as PNG).

- :func:`metric_dots`: ``report.png``: one panel per metric, a dot per run with its value written
  beside it, on an axis zoomed to the values (:func:`zoomed_range`, the zoom said on the axis),
  run labels wrapped, nothing cut off; a run without a value shows its note (e.g. ``failed``).
  Without matplotlib: :func:`metric_bars`, a plain PIL bar chart of the first metric;
- :func:`interval_chart`: ``reality_check.png``: the mean of each method per panel (a view and a
  metric) with its 95 % interval as whiskers (a bare dot when there is none, ``n = 1``), the best
  method in red.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Characters per line of a wrapped run label (``report.png``'s y axis).
LABEL_WIDTH = 38
BAR_BLUE = (31, 119, 180)


def zoomed_range(values: Sequence[float]) -> tuple[float, float]:
    """An axis range around ``values`` inside ``[0, 1]``: the spread plus 25% on each side
    (at least 0.02), so 0.984 and 0.987 do not look equal."""
    low, high = min(values), max(values)
    pad = max(0.02, 0.25 * (high - low))
    return max(0.0, low - pad), min(1.0, high + pad)


def metric_dots(
    path: Path,
    labels: Sequence[str],
    panels: Mapping[str, Sequence[float | None]],
    notes: Sequence[str],
    title: str,
    subtitle: str = "",
) -> None:
    """Write ``path``: one panel per ``panels`` key (a metric -> one value per run, ``None``: not
    measured), the runs top to bottom in the given order, each labelled ``labels[i]`` (wrapped);
    a run without a value shows ``notes[i]`` in red instead. ``title`` and ``subtitle`` (wrapped)
    head the figure."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        first = next(iter(panels.values()))
        values = [float(v or 0.0) for v in first]
        shown = [f"{v:.3f}" if v is not None else n for v, n in zip(first, notes, strict=True)]
        return metric_bars(path, list(labels), values, shown, f"{next(iter(panels))} per run")
    wrapped = ["\n".join(textwrap.wrap(label, LABEL_WIDTH)) or label for label in labels]
    lines = sum(label.count("\n") + 1 for label in wrapped)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(12, 1.6 + 0.32 * lines + 0.25 * len(labels)), sharey=True
    )
    ys = list(range(len(labels)))
    for ax, (metric, values) in zip(axes, panels.items(), strict=True):
        shown = [float(v) for v in values if v is not None]
        low, high = zoomed_range(shown) if shown else (0.0, 1.0)
        for y, value, note in zip(ys, values, notes, strict=True):
            if value is None:
                ax.text(low, y, f"  {note}", va="center", fontsize=10, color="#b02020")
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
        ax.set_yticks(ys, wrapped, fontsize=10)
        ax.grid(axis="x", color="#dddddd")
        ax.set_title(metric, fontsize=12)
        ax.set_xlabel(f"{metric} (axis zoomed: {low:.3f} to {high:.3f})", fontsize=10)
        ax.tick_params(axis="x", labelsize=10)
    axes[0].set_ylim(len(labels) - 0.5, -0.5)  # the first run on top (the y axis is shared)
    if subtitle:
        title += "\n" + "\n".join(textwrap.wrap(subtitle, 110))
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.2)  # nothing cut off
    plt.close(fig)


def metric_bars(
    path: Path, labels: Sequence[str], values: Sequence[float], notes: Sequence[str], heading: str
) -> None:
    """Write ``path`` with PIL only: ``heading``, then per run its label, a blue bar of length
    ``values[i]`` (in ``[0, 1]``, 400 px for 1) starting 360 px in, and ``notes[i]`` after it."""
    from PIL import Image, ImageDraw

    left, bar_w, row_h = 360, 400, 22
    image = Image.new("RGB", (left + bar_w + 80, 30 + row_h * len(labels)), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), heading, fill="black")
    for i, (label, value, note) in enumerate(zip(labels, values, notes, strict=True)):
        y = 30 + i * row_h
        draw.text((10, y + 4), label[:55], fill="black")
        draw.rectangle([left, y + 3, left + int(bar_w * value), y + row_h - 3], fill=BAR_BLUE)
        draw.text((left + int(bar_w * value) + 4, y + 4), note, fill="black")
    image.save(path)


def interval_chart(
    path: Path,
    summary: Sequence[Mapping[str, Any]],
    panels: Sequence[tuple[str, str, str]],
    best: Mapping[tuple[str, str], str],
) -> None:
    """Write ``path``: one panel per ``(view, metric, title)`` of ``panels``, a row per method
    (in order of first appearance in ``summary``), the method's ``mean`` with whiskers from
    ``ci_low`` to ``ci_high`` (a bare dot when ``ci_low`` is ``None``) and ``mean (n=n)`` above
    it; ``best[(view, metric)]``, the best method of a panel, is drawn red.

    ``summary``: rows with ``method``, ``view``, ``metric``, ``mean``, ``ci_low``, ``ci_high``,
    ``n``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["method"] for r in summary))
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(2.5 + 4 * len(panels), 1.5 + 0.45 * len(names)),
        squeeze=False,
        sharey=True,
    )
    for ax, (view, metric, title) in zip(axes[0], panels, strict=True):
        for y, name in enumerate(names):
            row = next(
                (
                    r
                    for r in summary
                    if (r["method"], r["view"], r["metric"]) == (name, view, metric)
                ),
                None,
            )
            if row is None:
                continue
            color = "tab:red" if best.get((view, metric)) == name else "tab:blue"
            if row["ci_low"] is not None:
                ax.errorbar(
                    row["mean"],
                    y,
                    xerr=[[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]],
                    fmt="o",
                    color=color,
                    capsize=4,
                )
            else:
                ax.plot(row["mean"], y, "o", color=color)
            ax.annotate(
                f"{row['mean']:.3f} (n={row['n']})",
                (row["mean"], y),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        ax.set_yticks(range(len(names)), names, fontsize=9)
        ax.tick_params(axis="y", labelleft=ax is axes[0][0])
        ax.set_ylim(len(names) - 0.5, -0.7)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", color="#dddddd")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
