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

    def __init__(
        self, marker: str, epoch: int = 1, batch: int = 1, wait_s: float = 120.0, once=False
    ):
        self.marker, self.epoch, self.batch, self.wait_s = Path(marker), epoch, batch, wait_s
        self.once = once  # not again in a resumed run (which re-applies the run's overrides)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) != (self.epoch, self.batch):
            return
        if self.once and self.marker.exists():
            return
        self.marker.touch()
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline and not trainer.received_sigterm:
            time.sleep(0.05)


def start(run_dir: Path | None, *extra: str, pause: Path | None = None) -> subprocess.Popen:
    """``python train.py RUN... hydra.run.dir=run_dir extra...`` (paused at epoch 1 if asked;
    ``run_dir=None``: no overrides but ``extra``, started in ``pause``'s folder)."""
    args = [*RUN, f"hydra.run.dir={run_dir}", *extra] if run_dir is not None else [*extra]
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
        # Ctrl-C as in a terminal: a shell's background job inherits SIGINT ignored, and Python
        # then never raises KeyboardInterrupt (the run would wait out the pause and finish)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        cwd=(run_dir or pause).parent,
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
    code, err = finish(proc)
    assert code == 143, err[-2000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err
    assert "SIGTERM" in errors[0] and errors[0].endswith("train.py ckpt_path=run")
    assert "the last checkpoint is run/checkpoints/last.ckpt (saved now)" in errors[0]
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


@pytest.mark.slow
def test_ctrl_c_prints_the_resume_command_and_that_command_repeats_the_run(tmp_path, reference):
    """Ctrl-C inside epoch 1: exit 130, one line naming epoch 0's last.ckpt and the command;
    that command alone (the run's overrides come from its folder) ends like the uninterrupted
    run, with the untrained column and without Lightning's "not empty" warning."""
    run_dir, marker = tmp_path / "run", tmp_path / "paused"
    proc = start(run_dir, "+callbacks.pause.once=true", pause=marker)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGINT)
    code, err = finish(proc)
    assert code == 130, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last == (
        "error: interrupted by Ctrl-C: the last checkpoint is run/checkpoints/last.ckpt (end of "
        f"the last finished epoch); resume with: python {ROOT / 'train.py'} ckpt_path=run"
    ), err[-2000:]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted" and "KeyboardInterrupt" in status["error"]
    assert not (run_dir / "metrics.json").exists()
    untrained = json.loads((run_dir / "metrics_untrained.json").read_text())  # written first

    code, err = finish(start(None, "ckpt_path=run", pause=marker))  # the printed command
    assert code == 0, err[-2000:]
    assert "is not empty" not in err
    resumed = final_metrics(run_dir)
    assert set(resumed) == set(reference)
    for key, value in reference.items():
        assert resumed[key] == pytest.approx(value, abs=1e-6), key
    assert json.loads((run_dir / "metrics_untrained.json").read_text()) == untrained
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"


@pytest.mark.slow
def test_a_killed_run_reads_as_dead_and_ckpt_path_last_finds_it(tmp_path):
    """SIGKILL leaves status.json "running"; report.py says "dead (pid N gone)", and
    ``ckpt_path=last`` with the same overrides (no run folder given) resumes that run."""
    marker = tmp_path / "paused"
    short = [a for a in RUN if not a.startswith("trainer.max_epochs")] + ["trainer.max_epochs=2"]
    proc = start(None, *short, "+callbacks.pause.once=true", pause=marker)
    wait_for(marker, proc)
    (run_dir,) = (tmp_path / "outputs" / "runs").glob("*/*")
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "running" and status["pid"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)

    report = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "report.py"), str(run_dir.parent)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert f"dead (pid {proc.pid} gone)" in report.stdout

    code, err = finish(
        start(None, *short, "+callbacks.pause.once=true", "ckpt_path=last", pause=marker)
    )
    assert code == 0, err[-2000:]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    assert (run_dir / "metrics.json").is_file() and (run_dir / "metrics_untrained.json").is_file()
    assert [p for p in (tmp_path / "outputs" / "runs").glob("*/*") if p.is_dir()] == [run_dir]
