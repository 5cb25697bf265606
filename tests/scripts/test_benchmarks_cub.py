"""``scripts/benchmarks/cub.py``'s own side: the ``train.py`` command it runs (through the shared
``head_to_head.run_ours``), the training images/s it derives from the run, and a missing archive."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmarks" / "cub.py"
sys.path.insert(0, str(SCRIPT.parent))  # its shared helpers (head_to_head.py), as when run
spec = importlib.util.spec_from_file_location("metriclab_benchmark_cub", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
import head_to_head  # noqa: E402  (after the path above)


@pytest.mark.parametrize(("limit", "batches"), [(None, 6), (4, 4)])
def test_ours_runs_train_py_and_counts_its_images_per_second(
    tmp_path, monkeypatch, limit, batches
) -> None:
    commands = []

    def fake_train(command, cwd, env):  # what train.py leaves: metrics.json and its config
        commands.append(command)
        (tmp_path / ".hydra").mkdir()
        metrics = {"test/recall@1": 0.5, "train_time_s": 10.0, "feature_cache_s": 2.0}
        (tmp_path / "metrics.json").write_text(json.dumps(metrics))
        cfg = {"data": {"batch_size": 8}, "trainer": {"max_epochs": 3}}
        cfg["trainer"]["limit_train_batches"] = limit
        OmegaConf.save(OmegaConf.create(cfg), tmp_path / ".hydra" / "config.yaml")
        return SimpleNamespace(returncode=0)

    monkeypatch.setattr(head_to_head.subprocess, "run", fake_train)
    got = bench.run_ours(Path("/data/cub"), ["trainer.max_epochs=3"], tmp_path, torch.zeros(50))
    assert commands == [
        [
            sys.executable,
            str(head_to_head.REPO / "train.py"),
            "experiment=cub_lite0",
            "data.root=/data/cub",
            f"hydra.run.dir={tmp_path}",
            "callbacks.progress_bar=null",
            "logger=csv",
            "trainer.max_epochs=3",
        ]
    ]
    assert got["train_time_s"] == 12.0  # the caching pass counts as training
    assert got["images_per_s"] == pytest.approx(3 * batches * 8 / 12.0)  # 50 // 8 = 6 batches


def test_a_failed_run_and_a_missing_archive_are_one_error_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(
        head_to_head.subprocess, "run", lambda *a, **k: SimpleNamespace(returncode=2)
    )
    with pytest.raises(SystemExit, match=r"^error: train.py exited with 2$"):
        bench.run_ours(tmp_path, [], tmp_path, torch.zeros(8))
    missing = tmp_path / "none.tar.gz"
    with pytest.raises(SystemExit, match=rf"^error: no CUB archive at {missing}; pass --root"):
        bench.find_root(SimpleNamespace(root=None, archive=str(missing)))
    assert bench.find_root(SimpleNamespace(root="/somewhere", archive=None)) == Path("/somewhere")
