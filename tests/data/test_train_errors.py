"""A missing root or a broken image through ``python train.py``: one ``error:`` line, exit 2, no
metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

try:  # tests/ as a package, or (pytest's default) this folder on sys.path
    from tests.data import fixtures
except ImportError:
    import fixtures


def run_train(cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *overrides],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return errors[0]


@pytest.mark.slow
def test_missing_root_is_one_error_line_naming_files_and_prepare_command(tmp_path):
    missing = tmp_path / "nonexistent"
    error = one_error_line(run_train(tmp_path, "data=cub", f"data.root={missing}"))
    for part in ("cub", str(missing), "images.txt", "image_class_labels.txt"):
        assert part in error, part
    assert f"python scripts/prepare_data.py cub --root {missing}" in error
    assert not list(tmp_path.rglob("metrics.json"))


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_broken_image_is_one_error_line_naming_the_file(tmp_path, workers):
    base = fixtures.make_cub(tmp_path / "data", per_class=4)
    broken = sorted((base / "images").rglob("*.jpg"))[1]  # a training image of class 1
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    result = run_train(
        tmp_path,
        "data=cub",
        f"data.root={base}",
        f"data.num_workers={workers}",
        "data.image_size=16",
        "data.batch_size=4",
        "data.val_classes=1",
        "sampler.m=2",
        "backbone=small_cnn",
        "trainer.max_epochs=1",
        "logger=csv",
        "callbacks.dashboards=null",
    )
    error = one_error_line(result)
    assert f"cannot read image {broken}" in error
    assert "data.skip_unreadable=true" in error
    assert not list(tmp_path.rglob("metrics.json"))
