"""Resuming is one command: ``python train.py ckpt_path=RUN_DIR`` (or ``ckpt_path=last``).

Before Hydra composes anything, :func:`resume_command_line` turns

- ``ckpt_path=RUN_DIR`` (a run folder) into the run's own overrides (``RUN_DIR/.hydra/
  overrides.yaml``) followed by the ones given now (e.g. ``trainer.max_epochs=40``), plus
  ``ckpt_path=last hydra.run.dir=RUN_DIR``: the run continues in place from
  ``checkpoints/last.ckpt``, with the settings it started with;
- ``ckpt_path=last`` without ``hydra.run.dir`` into the same for the newest run under
  ``<paths.log_dir>/runs`` (``outputs/runs``) of the same command (the same overrides, leaving out
  ``ckpt_path``) that did not complete and is not still running (:mod:`metriclab.runs.liveness`).

A folder that is not a run, a run without ``last.ckpt``, a run still running or no matching run is
one :class:`~metriclab.errors.ConfigError` line.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import yaml

from metriclab.errors import ConfigError
from metriclab.runs.liveness import is_live, run_state

#: Overrides that do not make another task (left out when runs are matched and re-applied).
NOT_THE_TASK = ("ckpt_path", "hydra.", "hydra/")


def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0]


def _task(overrides: list[str]) -> list[str]:
    return [o for o in overrides if not _key(o).startswith(NOT_THE_TASK)]


def recorded_overrides(run_dir: Path) -> list[str]:
    """The overrides ``run_dir`` was started with (``.hydra/overrides.yaml``)."""
    path = run_dir / ".hydra" / "overrides.yaml"
    try:
        return [str(o) for o in yaml.safe_load(path.read_text(encoding="utf-8")) or []]
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"ckpt_path={run_dir}: not a metriclab run folder (no readable {path}: "
            f"{type(exc).__name__}); pass a run folder (outputs/runs/DATE/TIME) or a .ckpt file"
        ) from None


def read_status(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def shown(path: Path) -> str:
    """``path`` as the user would type it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


def resume_command(run_dir: Path) -> str:
    """The command that resumes ``run_dir``: ``python train.py ckpt_path=RUN_DIR``."""
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else "train.py"
    return shlex.join(["python", script, f"ckpt_path={shown(Path(run_dir))}"])


def check_resumable(run_dir: Path) -> None:
    """Refuse a run folder without ``checkpoints/last.ckpt`` or one that is still running."""
    recorded_overrides(run_dir)  # a run folder at all
    status = read_status(run_dir)
    if is_live(status) and status.get("pid") is not None:
        raise ConfigError(
            f"ckpt_path={run_dir}: that run is still running (pid {status['pid']} on "
            f"{status.get('host')}); stop it first (Ctrl-C), then resume"
        )
    if not (run_dir / "checkpoints" / "last.ckpt").is_file():
        again = shlex.join(["python", "train.py", *_task(recorded_overrides(run_dir))])
        raise ConfigError(
            f"ckpt_path={run_dir}: no checkpoints/last.ckpt in it (it stopped before its first "
            f"epoch ended), so there is nothing to resume; start it again: {again}"
        )


def latest_unfinished(runs_dir: Path, task: list[str]) -> Path | None:
    """The newest run folder under ``runs_dir`` (``DATE/TIME``) started with the overrides
    ``task`` that has a ``last.ckpt``, did not complete and is not running."""
    wanted = sorted(task)
    for run_dir in sorted(runs_dir.glob("*/*"), reverse=True):
        if not (run_dir / "checkpoints" / "last.ckpt").is_file():
            continue
        try:
            if sorted(_task(recorded_overrides(run_dir))) != wanted:
                continue
        except ConfigError:
            continue
        state = run_state(read_status(run_dir))
        if state not in ("completed", "running"):
            return run_dir
    return None


def resume_command_line(argv: list[str]) -> list[str]:
    """``argv`` with ``ckpt_path=RUN_DIR`` / ``ckpt_path=last`` spelled out (module docstring);
    any other command line unchanged."""
    if any(a in ("-m", "--multirun") for a in argv):
        return argv
    given = [a for a in argv if _key(a) == "ckpt_path" and not a.startswith("~")]
    if not given:
        return argv
    value = given[-1].partition("=")[2]
    others = [a for a in argv if _key(a) != "ckpt_path"]
    if value == "last":
        if any(_key(a) == "hydra.run.dir" for a in argv):
            return argv  # this run folder's last.ckpt (runs.run_dir)
        log_dir = next((a.partition("=")[2] for a in argv if _key(a) == "paths.log_dir"), None)
        root = next((a.partition("=")[2] for a in argv if _key(a) == "paths.root_dir"), ".")
        runs_dir = Path(log_dir or Path(root) / "outputs") / "runs"
        run_dir = latest_unfinished(runs_dir, _task(others))
        if run_dir is None:
            raise ConfigError(
                f"ckpt_path=last: no interrupted run of this command (the same overrides) with a "
                f"checkpoints/last.ckpt under {runs_dir}; resume a given run with "
                "ckpt_path=RUN_DIR, or start a new one without ckpt_path"
            )
    elif Path(value).is_dir():
        run_dir = Path(value)
    else:
        return argv  # a .ckpt file (checked by runs.checkpoints)
    check_resumable(run_dir)
    now = {_key(a) for a in others}
    recorded = [o for o in _task(recorded_overrides(run_dir)) if _key(o) not in now]
    return [*recorded, *others, "ckpt_path=last", f"hydra.run.dir={run_dir}"]
