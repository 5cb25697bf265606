"""Runs that record how they ended, sweep jobs that fail alone, and DDP inside a sweep.

Every run writes ``RUN_DIR/status.json`` (rank 0 only)::

    {"status": "completed", "overrides": [...], "optimized_metric": "val/recall@1",
     "value": 0.91, "time_s": 12.3}
    {"status": "failed", "overrides": [...], "error": "ConfigError: ...", "traceback": "..."}

(``"running"`` while it trains, with the process's ``pid``, ``host`` and a ``heartbeat`` renewed
every 30 s, so a reader tells a killed run from a live one (:mod:`metriclab.runs.liveness`);
``"interrupted"`` after Ctrl-C or a SIGTERM, which always stop.)

A single run re-raises its error (the CLI prints one line and exits 2 on a ``ConfigError``). A
sweep job (``python train.py -m ...``) prints ``error: job N (overrides) failed: ...``, records it
and returns no metric (``train.py`` returns ``None``), so Hydra's launcher goes on with the next
job and the Optuna sweeper marks the trial FAIL (a NaN would crash hydra-optuna-sweeper 1.3 with
optuna 2.10: its retry passes the NaN again). A run whose optimized metric is NaN/inf (a
diverged loss) counts as failed too.

DDP inside a sweep: Hydra's sweeper (Optuna's TPE included) samples a trial's values once, in the
launching process, and passes them to the job as overrides. Lightning's DDP launcher starts ranks
1..N-1 by re-running the command line (``sys.argv``); under ``-m`` that would start a new sweep
in every rank, each sampling its own values. :func:`ddp_ranks_rerun_this_job` makes the command
line the job's own overrides (and the run directory the job's directory) while the job runs, so
every rank trains the trial the sweeper sampled; after the job it ends the job's process group,
so the next DDP job of the sweep starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, read_write
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from metriclab.errors import user_mistake
from metriclab.runs.liveness import Heartbeat
from metriclab.runs.report import write_json_atomic

try:  # Hydra's callback base class (hydra-core >= 1.1)
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover
    _HydraCallback = object  # type: ignore[misc,assignment]

log = logging.getLogger("metriclab")

#: What Lightning's launcher sets in this process for its DDP children (restored after a job).
DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "NODE_RANK", "LOCAL_RANK")

#: The exit status of a sweep in which a job failed (after the summary).
EXIT_SWEEP_FAILED = 1

TrainFn = Callable[[DictConfig], tuple[dict[str, float], dict[str, Any]]]


def is_multirun() -> bool:
    """Whether this process runs a job of a Hydra sweep (``-m``)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_overrides() -> list[str]:
    """The command-line overrides of this run or sweep job (``[]`` outside Hydra)."""
    if not HydraConfig.initialized():
        return []
    return [str(o) for o in HydraConfig.get().overrides.task]


def write_status(output_dir: str | Path, status: dict[str, Any]) -> None:
    """``output_dir/status.json`` (on global rank 0 only; other DDP ranks share the directory)."""
    if getattr(rank_zero_only, "rank", 0) == 0:
        write_json_atomic(Path(output_dir) / "status.json", status)


@contextlib.contextmanager
def ddp_ranks_rerun_this_job(output_dir: str | Path) -> Iterator[None]:
    """In a sweep job, make ``sys.argv`` and ``hydra.run.dir`` describe this job alone.

    Lightning starts DDP ranks > 0 as ``python <argv[0]> <argv[1:]> hydra.run.dir=<run.dir>``;
    inside the context that is ``python train.py <the job's overrides> hydra.run.dir=<job dir>``:
    a single run with the values the sweeper sampled once. Both are restored on exit.
    """
    if not is_multirun():
        yield
        return
    hydra_cfg = HydraConfig.get()
    saved_argv, saved_dir = list(sys.argv), hydra_cfg.run.dir
    saved_env = {k: os.environ.get(k) for k in DDP_ENV}
    sys.argv = [saved_argv[0], *job_overrides()]
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = str(output_dir)
    try:
        yield
    finally:
        sys.argv = saved_argv
        with read_write(hydra_cfg.run):
            hydra_cfg.run.dir = saved_dir
        release_process_group(saved_env)


def release_process_group(saved_env: dict[str, str | None]) -> None:
    """End this job's ``torch.distributed`` group and restore the rendezvous variables, so the
    next DDP job of the sweep starts its own group (Lightning reuses an initialised one, whose
    peers have exited) on a fresh port."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _error_line(exc: BaseException) -> str:
    from metriclab.errors import import_failure_line

    broken = import_failure_line(exc)  # the root cause of "Error locating target"
    if broken is not None:
        return f"ImportError: {broken}"
    exc = user_mistake(exc) or exc  # a ConfigError inside Hydra's InstantiationException
    message = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {message}"


def sweep_jobs(sweep_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """``[(job, status.json content)]`` of the sweep's job directories, in job order."""
    jobs = []
    for status_file in sweep_dir.glob("*/status.json"):
        try:
            status = json.loads(status_file.read_text())
        except (OSError, ValueError):
            status = {"status": "unreadable"}
        jobs.append((status_file.parent.name, status))
    return sorted(
        jobs, key=lambda job: (not job[0].isdigit(), int(job[0]) if job[0].isdigit() else 0, job[0])
    )


def summary_table(jobs: list[tuple[str, dict[str, Any]]], metric: str) -> str:
    """A plain-text table: job, the overrides that differ between jobs, status, the optimized
    metric (or the failure's one-line cause)."""
    rows = [("job", "overrides", "status", metric)]
    shared = set.intersection(*(set(s.get("overrides", [])) for _, s in jobs)) if jobs else set()
    for job, status in jobs:
        value = status.get("value")
        shown = f"{value:.4f}" if isinstance(value, float) else str(status.get("error", "-"))
        differ = [o for o in status.get("overrides", []) if o not in shared or len(jobs) == 1]
        rows.append((job, " ".join(differ), status.get("status", "?"), shown))
    widths = [min(70, max(len(r[i]) for r in rows)) for i in range(3)]
    lines = [
        " | ".join(cell[:70].ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + f" | {r[3]}"
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


class SweepSummary(_HydraCallback):
    """Hydra callback: at the end of a sweep, print every job's overrides, status and metric,
    where the runs are and how to compare them; exit with status 1 if any job failed.

    Each failed job also printed its one-line cause when it failed; the summary repeats it.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        metric = str(config.get("optimized_metric") or "val/recall@1")
        jobs = sweep_jobs(sweep_dir)
        failed = [(job, s) for job, s in jobs if s.get("status") != "completed"]
        print(f"\nsweep: {len(jobs) - len(failed)} completed, {len(failed)} failed, in {sweep_dir}")
        if jobs:
            print(summary_table(jobs, metric))
        print(f"compare them: python scripts/report.py {sweep_dir}")
        print(f"dashboards:   tensorboard --logdir {sweep_dir}")
        if failed:
            for job, status in failed:
                print(
                    f"error: job {job} failed: {status.get('error', status.get('status'))}",
                    file=sys.stderr,
                )
            sys.exit(EXIT_SWEEP_FAILED)


@contextlib.contextmanager
def recorded(cfg: DictConfig) -> Iterator[dict[str, float]]:
    """``with recorded(cfg) as metrics: metrics |= train(cfg)[0]``: the run that writes
    ``status.json``, in which a failed sweep job fails alone.

    Yields the dict the body fills with the run's metrics. On leaving: ``"completed"`` with the
    optimized metric's value; a NaN/inf value (a diverged run) or an exception is recorded as
    ``"failed"``, re-raised outside a sweep, and in a sweep job reported in one line and
    swallowed with ``metrics`` emptied (so ``metrics.get(optimized_metric)`` is ``None``);
    Ctrl-C and SIGTERM are recorded as ``"interrupted"`` and always propagate.
    """
    output_dir = Path(cfg.paths.output_dir)
    metric = cfg.get("optimized_metric") or "val/recall@1"
    record: dict[str, Any] = {"overrides": job_overrides(), "optimized_metric": metric}
    running = {**record, "status": "running"}  # + pid, host, heartbeat (runs.liveness)
    heartbeat = Heartbeat(lambda who: write_status(output_dir, {**running, **who}))
    metrics: dict[str, float] = {}
    start = time.perf_counter()
    try:
        with heartbeat, ddp_ranks_rerun_this_job(output_dir):
            yield metrics
        value = metrics.get(metric)
        if value is not None and not math.isfinite(float(value)):
            raise FloatingPointError(
                f"{metric}={value}: the run diverged (NaN/inf embeddings); "
                "lower optimizer.lr or enable gradient clipping (trainer.gradient_clip_val=1.0)"
            )
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, then handled below
        elapsed = round(time.perf_counter() - start, 3)
        error = _error_line(exc)
        failed = {**record, "status": "failed", "error": error, "time_s": elapsed}
        write_status(output_dir, {**failed, "traceback": traceback.format_exc()})
        if not is_multirun():
            raise
        num = HydraConfig.get().job.get("num", "?")
        print(
            f"error: job {num} ({' '.join(record['overrides'])}) failed: {error}", file=sys.stderr
        )
        log.debug("job %s failed", num, exc_info=True)
        metrics.clear()
        return
    except BaseException as exc:  # Ctrl-C, SIGTERM (preemption): recorded, then the run stops
        elapsed = round(time.perf_counter() - start, 3)
        stopped = {**record, "status": "interrupted", "error": _error_line(exc), "time_s": elapsed}
        write_status(output_dir, stopped)
        raise
    elapsed = round(time.perf_counter() - start, 3)
    completed = {**record, "status": "completed", "value": value, "time_s": elapsed}
    write_status(output_dir, completed)


# --- protocol.fold=all: every fold in one job (hparams_search=optuna protocol=kfold) ---------
# A search under "A Metric Learning Reality Check" maximises the mean over the k class-disjoint
# folds of each fold's best val/map@r; the test classes stay unseen. Hydra's Optuna sweeper
# launches one job per trial, so configs/hparams_search/optuna.yaml passes protocol.fold=all and
# the job trains the folds one after the other, each in JOB_DIR/fold_<p>/ (a run directory with
# its own .hydra/config.yaml and overrides.yaml, so scripts/report.py reads each fold as a run),
# untested (test=false). It returns, for every val/... metric, m = (1/k) sum_p m_p (each fold at
# its best epoch) and each fold's value as <metric>/fold_<p>; status.json records the mean.


def all_folds(cfg: DictConfig) -> bool:
    """Whether ``cfg`` asks for every fold in this job (``protocol.fold=all``)."""
    from omegaconf import OmegaConf

    return str(OmegaConf.select(cfg, "protocol.fold", default=None)) == "all"


def fold_config(cfg: DictConfig, fold: int, output_dir: Path) -> DictConfig:
    """``cfg`` with ``protocol.fold=fold`` writing into ``output_dir``, without the test (the
    test classes stay unseen while searching)."""
    import copy

    from omegaconf import open_dict

    fold_cfg = copy.deepcopy(cfg)
    with open_dict(fold_cfg):
        fold_cfg.protocol.fold = fold
        fold_cfg.paths.output_dir = str(output_dir)
        fold_cfg.test = False
        fold_cfg.test_untrained = False
    return fold_cfg


def write_hydra_files(cfg: DictConfig, output_dir: Path, overrides: list[str]) -> None:
    """``.hydra/config.yaml`` and ``.hydra/overrides.yaml`` of one fold's run, as Hydra writes
    them for a job (what ``scripts/report.py`` reads)."""
    from omegaconf import OmegaConf

    hydra_dir = output_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), hydra_dir / "overrides.yaml")


def train_every_fold(cfg: DictConfig, train: TrainFn) -> dict[str, float]:
    """``protocol.fold=all``: ``train`` each fold in ``RUN_DIR/fold_<p>/``; the mean of their
    validation metrics and each fold's value (see the comment above)."""
    folds = int(cfg.protocol.folds)
    root = Path(str(cfg.paths.output_dir))
    overrides = [o for o in job_overrides() if not o.startswith("protocol.fold=")]
    per_fold: list[dict[str, float]] = []
    for fold in range(folds):
        output_dir = root / f"fold_{fold}"
        fold_cfg = fold_config(cfg, fold, output_dir)
        write_hydra_files(fold_cfg, output_dir, [*overrides, f"protocol.fold={fold}"])
        log.info("protocol.fold=all: fold %d of %d in %s", fold, folds, output_dir)
        metrics, _ = train(fold_cfg)
        per_fold.append(metrics)
    keys = [k for k in per_fold[0] if k.startswith("val/")]
    summary = {
        k: sum(m[k] for m in per_fold) / folds for k in keys if all(k in m for m in per_fold)
    }
    for fold, metrics in enumerate(per_fold):
        summary |= {f"{k}/fold_{fold}": metrics[k] for k in keys if k in metrics}
    monitor = cfg.get("optimized_metric")
    if monitor in summary:
        values = ", ".join(f"{m[monitor]:.4f}" for m in per_fold)
        print(f"{monitor}, mean over {folds} folds: {summary[monitor]:.4f} ({values})")
    return summary
