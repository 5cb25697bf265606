"""An installed (non-editable) metriclab reopens a run from outside the checkout: the configs a
group override needs (``data=digits``) ship inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_eval_with_a_group_override_from_an_installed_wheel(digits_run: Path, tmp_path) -> None:
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    wheel = next(wheels.glob("metriclab-*.whl"))
    install = [*pip, "install", "--no-deps", "--target", str(site), str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    assert (site / "metriclab" / "configs" / "data" / "digits.yaml").is_file()

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}  # before the editable checkout on sys.path
    where = subprocess.run(
        [sys.executable, "-c", "import metriclab; print(metriclab.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=outside,
        check=True,
    )
    assert where.stdout.strip().startswith(str(site)), where.stdout
    ckpt = digits_run / "checkpoints" / "best.ckpt"
    command = [
        sys.executable,
        str(ROOT / "scripts" / "eval.py"),
        f"ckpt_path={ckpt}",
        "data=digits",
        "nmi=false",
        "progress=false",
        f"out={outside / 'eval'}",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=outside, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (outside / "eval" / "metrics.json").is_file()
