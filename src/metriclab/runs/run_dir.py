"""The run directory's rules: writable, never reused by a new run, resumed only on request.

A directory *holds a run* when it has a ``metrics.json`` or a ``checkpoints/*.ckpt``. A new run
refuses such a directory; ``ckpt_path=RUN_DIR`` (:mod:`metriclab.runs.resume`, which becomes
``ckpt_path=last hydra.run.dir=RUN_DIR``) or a checkpoint inside it resumes it instead.
Hydra writes ``RUN_DIR/.hydra/`` before the task starts, so :class:`RunDirGuard` (a Hydra
callback, configured in ``configs/hydra/default.yaml``) checks before Hydra touches the
directory; ``train(cfg)`` checks again for callers that do not go through Hydra's ``run``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from metriclab.errors import ConfigError

RUN_MARKERS = ("metrics.json", "checkpoints/*.ckpt")


def run_markers(run_dir: Path) -> list[str]:
    """The files that show ``run_dir`` already holds a run (relative paths, sorted)."""
    found = {p for pattern in RUN_MARKERS for p in run_dir.glob(pattern) if p.is_file()}
    return sorted(str(p.relative_to(run_dir)) for p in found)


def is_resuming(ckpt_path: str | None, run_dir: Path) -> bool:
    """``ckpt_path=last``, or a checkpoint file inside ``run_dir``: the run continues there."""
    if not ckpt_path:
        return False
    if ckpt_path == "last":
        return True
    try:
        return Path(ckpt_path).resolve().is_relative_to(run_dir.resolve())
    except OSError:
        return False


def check_writable(run_dir: Path) -> None:
    """Create ``run_dir`` (if needed) and a scratch file in it; a failure is a ConfigError."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=run_dir):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot write the run directory {run_dir} ({type(exc).__name__}: "
            f"{exc.strerror or exc}); choose a writable place with hydra.run.dir=DIR "
            "(or paths.log_dir=DIR)"
        ) from None


def check_run_dir(run_dir: Path, ckpt_path: str | None) -> None:
    """Refuse a new run in a directory that holds one, and ``last`` where there is none."""
    if ckpt_path == "last" and not (run_dir / "checkpoints" / "last.ckpt").is_file():
        raise ConfigError(
            f"ckpt_path=last: no checkpoint at {run_dir / 'checkpoints' / 'last.ckpt'}; to "
            "resume a run, pass its folder: ckpt_path=RUN_DIR (or ckpt_path=last with "
            "hydra.run.dir=RUN_DIR; a run stopped before its first checkpoint cannot be resumed: "
            "start it again)"
        )
    markers = run_markers(run_dir) if run_dir.is_dir() else []
    if markers and not is_resuming(ckpt_path, run_dir):
        raise ConfigError(
            f"hydra.run.dir={run_dir} already holds a run ({', '.join(markers[:3])}); resume it "
            f"with ckpt_path={run_dir} (or ckpt_path=last), or leave hydra.run.dir unset (each "
            "run gets a new directory) or give a new one"
        )
    check_writable(run_dir)


def tidy_for_resume(run_dir: Path) -> None:
    """Delete temporary checkpoint files a killed run left behind (``.*.tmp``), and keep the CSV
    logs: Lightning's CSV logger deletes an existing ``metrics.csv`` when it starts, so the old
    one becomes ``metrics.before-resume-<n>.csv`` beside it."""
    for stale in (run_dir / "checkpoints").glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    for csv_log in run_dir.rglob("metrics.csv"):
        n = len(list(csv_log.parent.glob("metrics.before-resume-*.csv"))) + 1
        csv_log.rename(csv_log.with_name(f"metrics.before-resume-{n}.csv"))


def prepare_run(cfg: DictConfig, trainer, module, run_dir: Path) -> str | None:
    """Before ``fit``: check ``ckpt_path`` against ``module``, make checkpoint writes atomic,
    tidy a resumed directory and write ``run_info.json``; return the checkpoint to load."""
    from metriclab.runs.checkpoints import (
        check_compatible,
        install_atomic_io,
        load_checkpoint,
        resolve_ckpt_path,
    )
    from metriclab.runs.run_info import write_run_info

    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), run_dir)
    if ckpt_path is not None:
        resume = bool(cfg.get("train", True))
        check_compatible(load_checkpoint(ckpt_path), module, ckpt_path, resume=resume)
    install_atomic_io(trainer)
    if trainer.is_global_zero:
        resuming = is_resuming(cfg.get("ckpt_path"), run_dir)
        if resuming:
            tidy_for_resume(run_dir)
        write_run_info(cfg, run_dir, resuming)
    return ckpt_path


try:  # Hydra's callback base class (hydra-core >= 1.1)
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover
    _HydraCallback = object  # type: ignore[misc,assignment]


#: Run directories that did not exist when this process's single run started (Hydra made them).
_NEW_RUN_DIRS: set[Path] = set()


def created_by_this_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` was made by this process's run (so a refused run may remove it)."""
    return run_dir.resolve() in _NEW_RUN_DIRS


class RunDirGuard(_HydraCallback):
    """Hydra callback: check ``hydra.run.dir`` before Hydra creates it or writes ``.hydra/``,
    and remember whether it is new (:func:`created_by_this_run`).

    A problem prints one line ``error: ...`` on stderr and exits with status 2.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            run_dir = Path(str(config.hydra.run.dir))
        except Exception:  # an interpolation only Hydra's job can resolve: train() checks later
            return
        existed = run_dir.exists()
        try:
            check_run_dir(run_dir, config.get("ckpt_path"))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        if not existed:
            _NEW_RUN_DIRS.add(run_dir.resolve())
