"""Run a script of ``scripts/`` the way a user does: a subprocess, its exit status, its lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_script(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """``python scripts/<script>.py ARGS`` with one CPU thread; stdout and stderr as text."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / f"{script}.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=300,
    )


def last_line(text: str) -> str:
    """The last non-empty line of ``text``."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The ``error:`` lines a run printed on stderr."""
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]
