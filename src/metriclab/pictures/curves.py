"""Trade-off curves of a trained model (matplotlib, written as PNG).

- :func:`recall_vs_bytes`: ``frontier.png`` of ``scripts/frontier.py``: Recall@1 against bytes per
  vector (log scale), one line per code/index, the Pareto front in black;
- :func:`precision_coverage`: ``precision_coverage.png`` of ``scripts/eval.py openset=true``: the
  precision of the answers against coverage (answered / queries) as the threshold rises, the
  chosen threshold as a red dot.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class Point(Protocol):
    """What :func:`recall_vs_bytes` reads of an operating point
    (:class:`metriclab.deployment.frontier.OperatingPoint` is one)."""

    code: str
    index: str
    params: Mapping[str, Any]
    bytes_per_vector: float
    metrics: Mapping[str, float]


def recall_vs_bytes(points: Sequence[Point], front: Sequence[Point], title: str) -> bytes:
    """PNG bytes (880 x 550): R@1 against bytes per vector, one line per code/index, the front
    in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[Point]] = {}
    for p in points:
        label = f"{p.code} {p.index}" + "".join(f" {k}={v}" for k, v in p.params.items())
        series.setdefault(label, []).append(p)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, max(2, len(series))))
    for (label, group), color in zip(series.items(), colors, strict=False):
        group = sorted(group, key=lambda p: p.bytes_per_vector)
        ax.plot(
            [p.bytes_per_vector for p in group],
            [p.metrics["recall@1"] for p in group],
            marker="o",
            markersize=3,
            linewidth=1,
            color=color,
            label=label,
        )
    best = sorted(front, key=lambda p: p.bytes_per_vector)
    ax.plot(
        [p.bytes_per_vector for p in best],
        [p.metrics["recall@1"] for p in best],
        color="black",
        linewidth=2,
        drawstyle="steps-post",
        label="Pareto front",
    )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per vector (log scale)")
    ax.set_ylabel("Recall@1")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def precision_coverage(block: Mapping[str, Any], path: Path, title: str) -> Path:
    """Write ``path`` (500 x 400 PNG): precision vs coverage of the calibration half, the chosen
    threshold as a red dot, the target precision (if any) as a dotted line.

    ``block``: the calibration block of :func:`metriclab.recognition.metrics.recognition_metrics`
    (``curve`` with ``coverage`` and ``precision`` lists, ``calibration`` with the chosen point's
    ``coverage`` and ``precision``, ``threshold``, ``target``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve, got = block["curve"], block["calibration"]
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(curve["coverage"], curve["precision"], label="calibration half")
    target = block["target"].get("precision")
    if target is not None:
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax.plot(
        [got["coverage"]],
        [got["precision"]],
        "o",
        color="red",
        label=f"threshold {block['threshold']:.3f}",
    )
    ax.set(
        xlabel="coverage (answered / queries)",
        ylabel="precision of answers",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
