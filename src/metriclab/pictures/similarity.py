"""One picture of how positive and negative pair similarities separate (the dashboards'
``val/similarity`` card, :mod:`metriclab.callbacks.dashboards`).

Two overlaid histograms on one axis (the overlap is the thing to look at), each normalised to
its own area (there are far more negative pairs than positive ones), with the means marked and
the **separation margin** ``mu_pos - mu_neg`` (mean cosine similarity of same-class pairs minus
that of different-class pairs) drawn as an arrow between them, plus the overlap
``1 - TV = sum_b min(p_b, n_b)`` of the two normalised histograms (0: fully separated).
"""

from __future__ import annotations

import numpy as np

POSITIVE, NEGATIVE = "#2a9d3c", "#d23c3c"


def separation(pos: np.ndarray, neg: np.ndarray, bins: np.ndarray) -> dict[str, float]:
    """``mean_pos``, ``mean_neg``, ``margin = mean_pos - mean_neg`` and ``overlap`` (the shared
    area of the two histograms over ``bins``, each normalised to 1)."""
    p = np.histogram(pos, bins)[0] / max(1, len(pos))
    n = np.histogram(neg, bins)[0] / max(1, len(neg))
    mean_pos, mean_neg = float(np.mean(pos)), float(np.mean(neg))
    return {
        "mean_pos": mean_pos,
        "mean_neg": mean_neg,
        "margin": mean_pos - mean_neg,
        "overlap": float(np.minimum(p, n).sum()),
    }


def similarity_chart(
    pos: np.ndarray, neg: np.ndarray, title: str = "", width: float = 5.0, dpi: int = 100
) -> np.ndarray:
    """``uint8 [H, W, 3]``: the overlaid histograms of ``pos`` and ``neg`` (cosine similarities
    ``[P]`` and ``[N]``) with both means, the margin between them and the overlap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    low = float(min(pos.min(), neg.min(), 0.0))
    bins = np.linspace(low, 1.0, 61)
    stats = separation(pos, neg, bins)
    fig = Figure(figsize=(width, width * 0.72), dpi=dpi)  # small, large type: TB shrinks cards
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for values, color, name in ((neg, NEGATIVE, "different class"), (pos, POSITIVE, "same class")):
        label = f"{name} ({len(values):,})"
        ax.hist(values, bins, density=True, color=color, alpha=0.45, label=label)
        ax.hist(values, bins, density=True, color=color, histtype="step", linewidth=1.5)
    top = ax.get_ylim()[1]
    for key, color in (("mean_neg", NEGATIVE), ("mean_pos", POSITIVE)):
        ax.axvline(stats[key], color=color, linestyle="--", linewidth=1.5)
    ax.annotate(
        "",
        xy=(stats["mean_pos"], top * 0.9),
        xytext=(stats["mean_neg"], top * 0.9),
        arrowprops={"arrowstyle": "<->", "color": "black", "linewidth": 1.5},
    )
    ax.text(
        (stats["mean_pos"] + stats["mean_neg"]) / 2,
        top * 0.93,
        f"margin {stats['margin']:.3f}",
        ha="center",
        va="bottom",
        fontsize=13,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
    )
    ax.set_ylim(0, top * 1.08)
    ax.set_xlim(low, 1.0)
    ax.set_xlabel("cosine similarity of a pair", fontsize=13)
    ax.set_ylabel("density", fontsize=13)
    ax.tick_params(labelsize=12)
    ax.legend(  # under the axis: never over the bars or the margin
        loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=11, frameon=False
    )
    heading = f"overlap {stats['overlap']:.2f}"
    ax.set_title(f"{title}\n{heading}" if title else heading, fontsize=13)
    fig.tight_layout()
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
