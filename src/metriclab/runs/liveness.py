"""Is a ``"running"`` run alive? The owner and heartbeat in ``status.json``, and their reader.

A run that is killed with SIGKILL (or loses its machine) never gets to write how it ended, so
its ``status.json`` keeps ``"running"``. While it runs, the file therefore also says who owns it
and when it last showed a sign of life::

    {"status": "running", "pid": 4242, "host": "node7", "heartbeat": 1765000000.0,
     "heartbeat_at": "2026-12-06T04:00:00+00:00", ...}

:class:`Heartbeat` rewrites the file every :data:`HEARTBEAT_S` seconds from a daemon thread (a
long epoch does not look dead). :func:`run_state` is what every reader shows
(``scripts/report.py``, resuming with ``ckpt_path=``): on the same host a ``pid`` that no longer
exists is ``"dead (pid N gone)"``; elsewhere (or for a recycled pid) a heartbeat older than
:data:`STALE_AFTER_S` is ``"dead (no heartbeat for N min)"``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

#: Seconds between two heartbeats of a running run.
HEARTBEAT_S = 30.0
#: A heartbeat older than this (10 missed beats) means the run is gone.
STALE_AFTER_S = 10 * HEARTBEAT_S


def owner() -> dict[str, Any]:
    """``{"pid", "host", "heartbeat" (Unix time), "heartbeat_at" (ISO time)}`` of this process."""
    now = time.time()
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "heartbeat": round(now, 3),
        "heartbeat_at": datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"),
    }


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (signal 0 probes without sending)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    except (OverflowError, ValueError):
        return False
    return True


def run_state(status: Mapping[str, Any], now: float | None = None) -> str:
    """The state a reader shows: ``status["status"]``, or for a ``"running"`` run whose owner
    is gone ``"dead (pid N gone)"`` / ``"dead (no heartbeat for N min)"``."""
    state = str(status.get("status") or "unknown")
    if state != "running":
        return state
    pid, host, beat = status.get("pid"), status.get("host"), status.get("heartbeat")
    if pid is not None and host == socket.gethostname() and not pid_alive(pid):
        return f"dead (pid {pid} gone)"
    if isinstance(beat, int | float):
        age = (time.time() if now is None else now) - beat
        if age > STALE_AFTER_S:
            return f"dead (no heartbeat for {age / 60:.0f} min)"
    return state


def is_live(status: Mapping[str, Any]) -> bool:
    """Whether ``status`` describes a run that is still running."""
    return run_state(status) == "running"


class Heartbeat:
    """``with Heartbeat(write):`` calls ``write(owner())`` now and every ``interval`` seconds
    from a daemon thread, until the block ends (the thread is joined before it returns, so the
    caller's final write is never overwritten)."""

    def __init__(self, write: Callable[[dict[str, Any]], None], interval: float = HEARTBEAT_S):
        self.write, self.interval = write, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="metriclab-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write(owner())
            except OSError:  # a full disk must not kill the run; the next beat tries again
                pass

    def __enter__(self) -> Heartbeat:
        self.write(owner())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
