"""A missing root or a broken image through ``python train.py``: one ``error:`` line, exit 2, no
metrics."""

from __future__ import annotations

import fixtures
import pytest
from config_helpers import one_error_line, run_train


@pytest.mark.slow
def test_missing_root_is_one_error_line_naming_files_and_prepare_command(tmp_path):
    missing = tmp_path / "nonexistent"
    error = one_error_line(run_train("data=cub", f"data.root={missing}", cwd=tmp_path))
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
        cwd=tmp_path,
    )
    error = one_error_line(result)
    assert f"cannot read image {broken}" in error
    assert "data.skip_unreadable=true" in error
    assert not list(tmp_path.rglob("metrics.json"))
