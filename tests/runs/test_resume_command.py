"""``ckpt_path=RUN_DIR`` / ``ckpt_path=last``: the command line that resumes a run in place
(the end-to-end Ctrl-C, SIGKILL and resume: ``tests/pipeline/test_resume.py``)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import yaml
from config_helpers import one_error_line, run_train

from metriclab.errors import ConfigError
from metriclab.runs.resume import resume_command_line


def fake_run(
    run_dir: Path, overrides: list[str], status: dict | None = None, ckpt: bool = True
) -> Path:
    """A run folder as train.py leaves it: .hydra/overrides.yaml, status.json, last.ckpt."""
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (run_dir / "status.json").write_text(json.dumps(status or {"status": "interrupted"}))
    if ckpt:
        (run_dir / "checkpoints").mkdir()
        (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    return run_dir


def test_a_run_folder_resumes_with_its_own_overrides_then_the_new_ones(tmp_path):
    run = fake_run(tmp_path / "run", ["data=digits", "seed=3", "trainer.max_epochs=3"])
    argv = resume_command_line([f"ckpt_path={run}", "trainer.max_epochs=5"])
    assert argv == [
        "data=digits",
        "seed=3",
        "trainer.max_epochs=5",
        "ckpt_path=last",
        f"hydra.run.dir={run}",
    ]
    # a resumed run recorded ckpt_path=last: resuming it again does not repeat it
    again = fake_run(tmp_path / "again", ["data=digits", "ckpt_path=last"])
    assert resume_command_line([f"ckpt_path={again}"]) == [
        "data=digits",
        "ckpt_path=last",
        f"hydra.run.dir={again}",
    ]


def test_ckpt_path_last_finds_the_newest_unfinished_run_of_the_same_command(tmp_path, monkeypatch):
    runs = tmp_path / "outputs" / "runs"
    older = fake_run(runs / "2026-01-01" / "10-00-00-000000", ["data=digits"])
    fake_run(runs / "2026-01-01" / "11-00-00-000000", ["data=digits"], {"status": "completed"})
    fake_run(runs / "2026-01-02" / "09-00-00-000000", ["data=glyphs"])  # another command
    fake_run(runs / "2026-01-03" / "09-00-00-000000", ["data=digits"], ckpt=False)
    monkeypatch.chdir(tmp_path)
    argv = resume_command_line(["data=digits", "ckpt_path=last"])
    assert argv == ["data=digits", "ckpt_path=last", f"hydra.run.dir={older.relative_to(tmp_path)}"]
    explicit = ["ckpt_path=last", "hydra.run.dir=X"]  # the run folder given: unchanged
    assert resume_command_line(explicit) == explicit
    with pytest.raises(ConfigError, match="no interrupted run of this command"):
        resume_command_line(["data=cub", "ckpt_path=last"])


def test_a_live_run_or_one_without_a_checkpoint_is_refused(tmp_path):
    live = {"status": "running", "pid": os.getpid(), "host": socket.gethostname()}
    running = fake_run(tmp_path / "running", ["data=digits"], live)
    with pytest.raises(ConfigError, match=f"still running \\(pid {os.getpid()}"):
        resume_command_line([f"ckpt_path={running}"])
    early = fake_run(tmp_path / "early", ["data=digits"], ckpt=False)
    with pytest.raises(ConfigError, match="nothing to resume; start it again: python train.py"):
        resume_command_line([f"ckpt_path={early}"])


def test_through_the_cli_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    (tmp_path / "photos").mkdir()
    line = one_error_line(run_train("ckpt_path=photos", cwd=tmp_path, timeout=120))
    assert line.startswith("error: ckpt_path=photos: not a metriclab run folder")
    line = one_error_line(run_train("ckpt_path=last", cwd=tmp_path, timeout=120))
    assert "no interrupted run of this command" in line
    assert not (tmp_path / "outputs").exists()
