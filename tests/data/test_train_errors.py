"""``python train.py data=cub data.root=/nonexistent``: one ``error:`` line, exit 2, no metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_missing_root_is_one_error_line_naming_files_and_prepare_command(tmp_path):
    missing = tmp_path / "nonexistent"
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "data=cub", f"data.root={missing}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for part in ("cub", str(missing), "images.txt", "image_class_labels.txt"):
        assert part in errors[0], part
    assert f"python scripts/prepare_data.py cub --root {missing}" in errors[0]
    assert not list(tmp_path.rglob("metrics.json"))
