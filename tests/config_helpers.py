"""Composing the real training config, and running ``train.py``, for tests (imported as
``config_helpers``).

A module of its own, not ``conftest``: several test folders have a ``conftest.py``, so
``from conftest import ...`` would pick whichever comes first on ``sys.path``.
"""

from __future__ import annotations

import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

#: Overrides that make a digits run take a second or two (digits, not the glyphs default: a
#: smaller set; selection on recall@1, which these mechanics tests assert on).
TINY = [
    "data=digits",
    "optimized_metric=val/recall@1",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
    "callbacks.dashboards=null",  # tested on their own (tests/scripts); about 0.7 s a run
    "backbone.width=16",
    "head.embedding_size=32",
]


def compose_config(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """``configs/train.yaml`` with ``overrides``, as ``python train.py`` would see it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
            cfg.hydra.runtime.output_dir = str(output_dir)
        HydraConfig().set_config(cfg)
    return cfg


def run_train(*args: str, cwd: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    """``python train.py *args`` in a subprocess started in ``cwd`` (extra environment ``env``)."""
    environment = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore", **env}
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a run that exited with status 2 and printed no traceback."""
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


def epoch_losses(run_dir: Path) -> list[float]:
    """``train/loss_epoch`` of each epoch from a run's CSV log (``logger=csv`` or ``many``)."""
    import csv

    logs = sorted(run_dir.rglob("metrics*.csv"))
    rows = [row for log in logs for row in csv.DictReader(log.open(newline=""))]
    by_epoch = {
        int(r["epoch"]): float(r["train/loss_epoch"]) for r in rows if r.get("train/loss_epoch")
    }
    return [by_epoch[e] for e in sorted(by_epoch)]


def as_sweep_job(tmp_path: Path, sweep: list[str], job: list[str]) -> None:
    """Make Hydra's config look like job ``job`` of ``python train.py -m *sweep``."""
    cfg = compose_config(job, tmp_path / "0")
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = RunMode.MULTIRUN
        with read_write(cfg.hydra.sweep):
            cfg.hydra.sweep.dir = str(tmp_path)
    (tmp_path / "multirun.yaml").write_text(
        OmegaConf.to_yaml({"hydra": {"overrides": {"task": sweep}}})
    )
    HydraConfig().set_config(cfg)


def refused(cfg, capsys, status: int = 2) -> str:
    """Run the CLI wrapper (:func:`metriclab.commands.train.run`) on ``cfg``; check the status,
    one ``error:`` line, no traceback and no ``metrics.json``; return the line."""
    import pytest

    from metriclab.commands.train import run

    with pytest.raises(SystemExit) as exited:
        run(cfg)
    err = capsys.readouterr().err
    assert exited.value.code == status, err[-2000:]
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err[-2000:]
    assert "Traceback" not in err
    assert not (Path(cfg.paths.output_dir) / "metrics.json").exists()
    return lines[0]


def hydra_main(monkeypatch, *argv: str) -> None:
    """``python train.py *argv`` in this process (the torch import paid once); the logging setup
    Hydra makes is undone. A non-zero exit propagates as ``SystemExit``."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    monkeypatch.setattr(sys, "argv", ["train.py", *argv])
    GlobalHydra.instance().clear()
    try:
        runpy.run_path(str(ROOT / "train.py"), run_name="__main__")
    finally:
        GlobalHydra.instance().clear()
        for handler in root.handlers[:]:
            if handler not in saved[0]:
                root.removeHandler(handler)
                handler.close()
        root.handlers[:], root.level = saved
