"""The trade-off curves drawn from plain data: what each line holds, read back from the figure
before it is saved, and the PNG that comes out."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import matplotlib.figure
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from metriclab.pictures.curves import precision_coverage, recall_vs_bytes


@pytest.fixture()
def saved(monkeypatch) -> dict:
    """The last figure saved, kept open for inspection."""
    seen: dict = {}
    original = matplotlib.figure.Figure.savefig

    def spy(fig, target, **kwargs):
        seen["fig"] = fig
        return original(fig, target, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    return seen


def point(code: str, index: str, size: float, r1: float, **params) -> SimpleNamespace:
    return SimpleNamespace(
        code=code, index=index, params=params, bytes_per_vector=size, metrics={"recall@1": r1}
    )


def test_recall_vs_bytes_one_line_per_code_and_index_and_the_front(saved: dict) -> None:
    points = [
        point("fp32", "flat", 512, 0.80),
        point("fp32", "flat", 256, 0.78),  # a shorter prefix: the same line
        point("int8", "flat", 128, 0.77),
        point("fp32", "ivf", 512, 0.70, nlist=8, nprobe=2),
    ]
    front = [points[0], points[2]]
    png = recall_vs_bytes(points, front, "run: frontier")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (880, 550)
    ax = saved["fig"].axes[0]
    lines = {line.get_label(): line.get_xydata().tolist() for line in ax.get_lines()}
    assert lines == {
        "fp32 flat": [[256, 0.78], [512, 0.80]],  # sorted by size
        "int8 flat": [[128, 0.77]],
        "fp32 ivf nlist=8 nprobe=2": [[512, 0.70]],
        "Pareto front": [[128, 0.77], [512, 0.80]],
    }
    front_line = ax.get_lines()[-1]
    assert (
        to_rgb(front_line.get_color()) == (0, 0, 0) and front_line.get_drawstyle() == "steps-post"
    )
    assert ax.get_xscale() == "log" and ax.get_title() == "run: frontier"


def block(coverage: float, precision: float, target: float | None) -> dict:
    return {
        "curve": {"coverage": [0.0, 0.3, 0.6, 1.0], "precision": [1.0, 0.97, 0.9, 0.6]},
        "calibration": {"coverage": coverage, "precision": precision},
        "threshold": 0.42,
        "target": {} if target is None else {"precision": target},
    }


def red_columns(path: Path) -> np.ndarray:
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(int)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    return np.flatnonzero(red.any(axis=0))


def test_precision_coverage_marks_the_threshold_where_it_is(tmp_path: Path, saved: dict) -> None:
    left = precision_coverage(block(0.3, 0.97, 0.95), tmp_path / "left.png", "test: knn")
    ax = saved["fig"].axes[0]
    curve, target, dot = ax.get_lines()
    assert curve.get_xydata().tolist() == [[0.0, 1.0], [0.3, 0.97], [0.6, 0.9], [1.0, 0.6]]
    assert target.get_ydata()[0] == 0.95 and target.get_label() == "target 0.95"
    assert dot.get_xydata().tolist() == [[0.3, 0.97]] and dot.get_label() == "threshold 0.420"
    assert ax.get_xlim() == (0, 1) and ax.get_title() == "test: knn"
    right = precision_coverage(block(0.9, 0.65, None), tmp_path / "right.png", "test: knn")
    assert len(saved["fig"].axes[0].get_lines()) == 2  # no target: no target line
    with Image.open(left) as image:
        assert image.size == (500, 400)
    # the dot is the rightmost red (the legend's marker sits at the left in both)
    assert red_columns(right).max() > red_columns(left).max() + 150
