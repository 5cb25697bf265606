"""Digits 5-9 as folders of PNGs for the predict / enroll tests (a module-scoped fixture)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metriclab.commands import export


def _copy(src: Path, dst: Path, classes: list[str], start: int, stop: int | None) -> Path:
    for c in classes:
        (dst / c).mkdir(parents=True, exist_ok=True)
        for f in sorted((src / c).glob("*.png"))[start:stop]:
            shutil.copy(f, dst / c / f.name)
    return dst


@pytest.fixture(scope="session", name="folders")
def folders_fixture(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Digits 5-9 as PNGs: 5, 6, 7 enrolled (20 each); calibration = 30 more of each + all 8s;
    queries = the rest of 5, 6, 7 + all 9s (strangers unseen in calibration)."""
    base = tmp_path_factory.mktemp("digits_png")
    options = ["progress=false", "onnx=false", f"out={base}"]
    assert export.main([f"ckpt_path={digits_run}", *options]) == 0
    png, top = base / "gallery", tmp_path_factory.mktemp("openset")
    known = ["5", "6", "7"]
    return {
        "enrolled": _copy(png, top / "enrolled", known, 0, 20),
        "calib": _copy(png, _copy(png, top / "calib", known, 20, 50), ["8"], 0, None),
        "queries": _copy(png, _copy(png, top / "queries", known, 50, None), ["9"], 0, None),
        "nine": _copy(png, top / "new", ["9"], 0, 10) / "9",
    }
