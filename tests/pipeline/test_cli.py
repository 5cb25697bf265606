"""``python train.py`` in a subprocess: a run, an override, a sweep, and a user mistake."""

from __future__ import annotations

import json
import re

import pytest
from config_helpers import epoch_losses, run_train

FAST = [
    "data=digits",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.accelerator=cpu",
    "backbone.width=16",
]


@pytest.mark.slow
def test_run_writes_what_the_spec_lists(tmp_path):
    run_dir = tmp_path / "run"
    result = run_train(
        *FAST, "loss=circle", "miner=multisim", f"hydra.run.dir={run_dir}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["test/recall@1"] <= 1.0
    out = result.stdout
    assert "| data=digits backbone=small_cnn loss=circle miner=multisim" in out
    assert re.search(r"\| metric +\| untrained \| +trained \|", out)
    untrained = json.loads((run_dir / "metrics_untrained.json").read_text())
    assert set(untrained) == {k for k in metrics if k.startswith("test/")}
    row = next(line for line in out.splitlines() if line.startswith("| test/map@r "))
    assert f"{untrained['test/map@r']:.4f}" in row and f"{metrics['test/map@r']:.4f}" in row
    assert out.rstrip().splitlines()[-1].strip() == (
        f"python scripts/eval.py ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"
    )
    assert f"next: tensorboard --logdir {run_dir}" in out
    saved = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "CircleLoss" in saved and "MultiSimilarityMiner" in saved


@pytest.mark.slow
def test_sweep_writes_one_directory_per_job(tmp_path):
    result = run_train(
        "-m", "loss=contrastive,triplet", *FAST, f"paths.log_dir={tmp_path}", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = sorted((tmp_path / "multirun").glob("*/*/[0-9]*"))
    assert [j.name for j in jobs] == ["0", "1"]
    for job, loss in zip(jobs, ["ContrastiveLoss", "TripletMarginLoss"], strict=True):
        assert loss in (job / ".hydra" / "config.yaml").read_text()
        assert "test/map@r" in json.loads((job / "metrics.json").read_text())


def test_user_mistake_is_one_line_and_writes_no_metrics(tmp_path):
    run_dir = tmp_path / "run"
    result = run_train(
        "data=digits", "data.batch_size=50", f"hydra.run.dir={run_dir}", cwd=tmp_path
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "data.batch_size=50" in errors[0] and "sampler.m=16" in errors[0]
    assert "Traceback" not in result.stderr
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_runs_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    result = run_train(
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        *FAST,
        "trainer.max_epochs=2",
        "logger=csv",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.5 <= metrics["test/recall@1"] <= 1.0
    losses = epoch_losses(run_dir)
    assert len(losses) == 2 and losses[1] < losses[0], losses  # the two ranks learn together
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert result.stdout.count("test/recall@1") == 1  # rank 0 alone prints the table


@pytest.mark.slow
def test_train_false_shows_no_best_epoch(tmp_path):
    """``train=false`` trains nothing: no ``best_epoch`` in the table or in metrics.json."""
    run_dir = tmp_path / "run"
    result = run_train(
        *FAST,
        "train=false",
        "trainer.limit_test_batches=2",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
        OMP_NUM_THREADS="1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| test/recall@1 " in result.stdout and "best_epoch" not in result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "best_epoch" not in metrics and 0.0 <= metrics["test/recall@1"] <= 1.0
