"""``scripts/report.py``'s charts drawn from plain data: what each panel shows, read back from
the figure before it is saved (or from the PNG's pixels for the PIL fallback)."""

from __future__ import annotations

import builtins
from pathlib import Path

import matplotlib.figure
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from metriclab.pictures.report_charts import (
    BAR_BLUE,
    LABEL_WIDTH,
    interval_chart,
    metric_bars,
    metric_dots,
    zoomed_range,
)


@pytest.fixture()
def saved(monkeypatch) -> dict:
    """The last figure saved, kept open for inspection."""
    seen: dict = {}
    original = matplotlib.figure.Figure.savefig

    def spy(fig, path, **kwargs):
        seen["fig"], seen["kwargs"] = fig, kwargs
        return original(fig, path, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    return seen


def test_axis_is_zoomed_to_the_values() -> None:
    low, high = zoomed_range([0.984, 0.987])
    assert 0.95 < low < 0.984 and 0.987 < high <= 1.0  # 0.984 and 0.987 do not look equal
    assert zoomed_range([0.0, 1.0]) == (0.0, 1.0)
    assert zoomed_range([0.5, 0.5]) == pytest.approx((0.48, 0.52))  # at least 0.02 each side


def test_metric_dots_one_panel_per_metric_a_dot_per_value_a_note_per_gap(
    tmp_path: Path, saved: dict
) -> None:
    long = "run 0: miner=" + "a_very_long_option_name_" * 4
    panels = {"test/recall@1": [0.9, 0.8, None], "test/map@r": [0.5, 0.45, None]}
    path = tmp_path / "report.png"
    metric_dots(path, [long, "run 1", "run 2"], panels, ["completed"] * 2 + ["failed"], "T", "S")
    fig = saved["fig"]
    assert [ax.get_title() for ax in fig.axes] == list(panels)
    assert fig._suptitle.get_text() == "T\nS"
    for ax, values in zip(fig.axes, panels.values(), strict=True):
        dots = [line.get_xydata()[0].tolist() for line in ax.get_lines()]
        assert dots == [[v, y] for y, v in enumerate(values) if v is not None]
        texts = [t.get_text() for t in ax.texts]  # each value written beside its dot
        assert texts == [f"{v:.3f}" for v in values if v is not None] + ["  failed"]
        low, high = zoomed_range([v for v in values if v is not None])
        assert ax.get_xlim()[0] == pytest.approx(low)
        assert f"axis zoomed: {low:.3f} to {high:.3f}" in ax.get_xlabel()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[1:] == ["run 1", "run 2"] and labels[0].count("\n") >= 1
    assert max(len(line) for line in labels[0].split("\n")) <= LABEL_WIDTH
    assert fig.axes[0].get_ylim() == (2.5, -0.5)  # the first run on top
    assert saved["kwargs"]["bbox_inches"] == "tight"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 1000


def test_without_matplotlib_a_pil_bar_chart(tmp_path: Path, monkeypatch) -> None:
    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    path = tmp_path / "report.png"
    metric_dots(path, ["a", "b"], {"test/recall@1": [1.0, None]}, ["completed", "failed"], "T")
    with Image.open(path) as image:
        pixels = image.convert("RGB")
        assert pixels.getpixel((365, 40)) == BAR_BLUE  # the first run's bar, full length
        assert pixels.getpixel((755, 40)) == BAR_BLUE
        assert pixels.getpixel((560, 62)) == (255, 255, 255)  # the failed run has none


def test_pil_bars_are_as_long_as_the_values(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    metric_bars(path, ["a", "b"], [1.0, 0.5], ["1.000", "0.500"], "test/recall@1 per run")
    with Image.open(path) as image:
        row = np.asarray(image.convert("RGB"))[62]  # the second row's middle
    blue = np.flatnonzero((row == BAR_BLUE).all(axis=1))
    assert blue.min() == 360 and blue.max() == 360 + 200


def test_interval_chart_whiskers_the_best_in_red_and_a_bare_dot_for_n1(
    tmp_path: Path, saved: dict
) -> None:
    def row(method, view, mean, low, high, n):
        return dict(
            method=method, view=view, metric="map@r", mean=mean, ci_low=low, ci_high=high, n=n
        )

    summary = [
        row("loss=a", "separated", 0.5, 0.45, 0.56, 4),
        row("loss=b", "separated", 0.6, 0.58, 0.63, 4),
        row("loss=a", "concatenated", 0.52, None, None, 1),
    ]
    panels = [("separated", "map@r", "sep"), ("concatenated", "map@r", "concat")]
    best = {("separated", "map@r"): "loss=b", ("concatenated", "map@r"): "loss=a"}
    interval_chart(tmp_path / "rc.png", summary, panels, best)
    sep, concat = saved["fig"].axes
    assert [sep.get_title(), concat.get_title()] == ["sep", "concat"]
    assert [t.get_text() for t in sep.get_yticklabels()] == ["loss=a", "loss=b"]
    bars = [c for c in sep.containers]  # one errorbar per method
    assert len(bars) == 2
    (line_a, _, (whisker_a,)), (line_b, _, _) = bars
    np.testing.assert_allclose(whisker_a.get_segments()[0], [[0.45, 0.0], [0.56, 0.0]])
    assert to_rgb(line_a.get_color()) == to_rgb("tab:blue")
    assert to_rgb(line_b.get_color()) == to_rgb("tab:red")  # the best of the panel
    assert not concat.containers and len(concat.get_lines()) == 1  # n=1: a bare dot
    assert to_rgb(concat.get_lines()[0].get_color()) == to_rgb("tab:red")
    assert [t.get_text() for t in concat.texts] == ["0.520 (n=1)"]
    assert (tmp_path / "rc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
