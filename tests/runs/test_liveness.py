"""``runs.liveness``: a ``"running"`` status.json whose process is gone reads as dead (the
end-to-end SIGKILL and ``report.py``: ``tests/pipeline/test_resume.py``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from metriclab.runs.liveness import STALE_AFTER_S, Heartbeat, owner, run_state
from metriclab.runs.report import write_json_atomic


def gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_running_status_whose_pid_is_gone_is_dead():
    here = socket.gethostname()
    pid = gone_pid()
    assert run_state({"status": "running", "pid": pid, "host": here}) == f"dead (pid {pid} gone)"
    alive = {"status": "running", **owner()}
    assert run_state(alive) == "running"
    assert run_state({"status": "completed", "pid": pid, "host": here}) == "completed"
    assert run_state({"status": "running"}) == "running"  # written before pids were recorded


def test_on_another_host_a_stale_heartbeat_is_dead():
    elsewhere = {"status": "running", "pid": 1, "host": "another-host", "heartbeat": 1000.0}
    assert run_state(elsewhere, now=1000.0 + 60) == "running"
    stale = run_state(elsewhere, now=1000.0 + STALE_AFTER_S + 600)
    assert stale == f"dead (no heartbeat for {(STALE_AFTER_S + 600) / 60:.0f} min)"


def test_the_heartbeat_renews_status_json_until_the_block_ends(tmp_path):
    path = tmp_path / "status.json"
    beats = []

    def write(who: dict) -> None:
        beats.append(who["heartbeat"])
        write_json_atomic(path, {"status": "running", **who})

    with Heartbeat(write, interval=0.05):
        time.sleep(0.4)
    count = len(beats)
    assert count >= 3 and beats == sorted(beats)
    status = json.loads(path.read_text())
    assert status["pid"] == os.getpid() and status["host"] == socket.gethostname()
    time.sleep(0.2)
    assert len(beats) == count  # stopped (joined) when the block ended
