"""Interrupted runs resume: SIGKILL after a checkpoint, SIGTERM (pre-emption), atomic writes.

The subprocess runs train digits for 3 tiny epochs. A test-only callback (:class:`PauseAt`) stops
inside epoch 1 (after its second batch, when epoch 0's ``last.ckpt`` exists), touches a marker
file and waits, so the test kills the process at a known point rather than racing it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from config_helpers import TINY, compose_config, epoch_losses

from metriclab.pipeline import train
from metriclab.runs.checkpoints import AtomicCheckpointIO

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent  # test_resume.PauseAt is imported from here
RUN = [
    "data=digits",
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=3",
    "trainer.accelerator=cpu",
    "++trainer.enable_progress_bar=false",
    "callbacks.progress_bar=null",
    "backbone.width=16",
    "head.embedding_size=32",
    "logger=csv",
]


class PauseAt(pl.Callback):
    """After batch ``batch`` of epoch ``epoch``: touch ``marker``, then wait for a SIGTERM
    (at most ``wait_s``). Used only by these tests, through ``+callbacks.pause``."""

    def __init__(self, marker: str, epoch: int = 1, batch: int = 1, wait_s: float = 120.0):
        self.marker, self.epoch, self.batch, self.wait_s = Path(marker), epoch, batch, wait_s

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) != (self.epoch, self.batch):
            return
        self.marker.touch()
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline and not trainer.received_sigterm:
            time.sleep(0.05)


def start(run_dir: Path, *extra: str, pause: Path | None = None) -> subprocess.Popen:
    """``python train.py RUN... hydra.run.dir=run_dir extra...`` (paused at epoch 1 if asked)."""
    args = [*RUN, f"hydra.run.dir={run_dir}", *extra]
    if pause is not None:
        args += [
            "+callbacks.pause._target_=test_resume.PauseAt",
            f"+callbacks.pause.marker={pause}",
        ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
        "PYTHONPATH": os.pathsep.join(
            [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=run_dir.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before pausing: {proc.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, "the run never reached the pause"
        time.sleep(0.05)


def final_metrics(run_dir: Path) -> dict[str, float]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.pop("train_time_s")
    return metrics


@pytest.fixture
def reference(tmp_path_factory) -> dict[str, float]:
    """The metrics of the uninterrupted run (same seed and settings), run in this process with
    the subprocesses' single thread (the CPU kernels' sums then match bit for bit)."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(compose_config([*TINY, *RUN], run_dir))
    finally:
        torch.set_num_threads(threads)
    return final_metrics(run_dir)


@pytest.mark.slow
def test_sigkill_after_a_checkpoint_then_resume_repeats_the_uninterrupted_run(tmp_path, reference):
    run_dir, marker = tmp_path / "run", tmp_path / "paused"
    proc = start(run_dir, pause=marker)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (run_dir / "metrics.json").exists()
    epoch0 = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (epoch0["epoch"], epoch0["global_step"]) == (0, 3)  # epoch 1's 2 steps were lost

    code, err = finish(start(run_dir, "ckpt_path=last"))
    assert code == 0, err[-2000:]
    resumed = final_metrics(run_dir)
    assert set(resumed) == set(reference)
    for key, value in reference.items():
        assert resumed[key] == pytest.approx(value, abs=1e-6), key
    info = json.loads((run_dir / "run_info.json").read_text())
    assert len(info["resumes"]) == 1 and "ckpt_path=last" in info["resumes"][0]["command"]
    assert not list((run_dir / "checkpoints").glob(".*.tmp"))


@pytest.mark.slow
def test_sigterm_saves_last_ckpt_and_the_run_resumes(tmp_path, make_cfg):
    run_dir, marker = tmp_path / "run", tmp_path / "paused"
    proc = start(run_dir, pause=marker)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGTERM)
    code, err = finish(proc, timeout=120)
    assert code == 143, err[-2000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err
    assert "SIGTERM" in errors[0] and "ckpt_path=last" in errors[0]
    assert str(run_dir / "checkpoints" / "last.ckpt") in errors[0]
    assert not (run_dir / "metrics.json").exists()
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (1, 5)  # 3 steps of epoch 0 + 2 of epoch 1

    metrics, objects = train(make_cfg(*RUN, "ckpt_path=last"))
    assert [epoch for epoch, _ in objects["evaluator"].history] == [0, 1, 2]
    assert objects["trainer"].current_epoch == 3
    assert 0.0 <= json.loads((run_dir / "metrics.json").read_text())["test/recall@1"] <= 1.0
    losses = epoch_losses(run_dir)  # the logs before and after the resume: it kept learning
    assert len(losses) == 3 and losses[2] < losses[0], losses
    kept = (run_dir / "csv" / "metrics.before-resume-1.csv").read_text()  # Lightning would delete
    assert "val/recall@1" in kept and (run_dir / "csv" / "metrics.csv").is_file()


def test_a_failed_checkpoint_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": torch.tensor(1)}, path)

    def dies_midway(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise KeyboardInterrupt  # a kill during torch.save

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["step"].item() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
