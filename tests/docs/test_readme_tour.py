"""The README's install line, then its tour: every tour command runs with what
``pip install -e .`` installs.

A fresh virtual environment takes minutes and the network; instead each command runs (on a tiny
setup, in a subprocess) with ``fresh_install/sitecustomize.py``, which makes every module whose
distribution is outside the dependency closure of ``pyproject.toml``'s ``dependencies`` fail to
import, as it would after the README's install (``onnxscript`` once was such a module: the tour's
``export.py`` crashed after ``pip install -e .``). Opportunistic imports (``try: import rich``)
fail quietly, as they would there. The tour's scripts are read from README.md, so a new tour
command without a run here fails too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from config_helpers import ROOT, TINY
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

FRESH = Path(__file__).resolve().parent / "fresh_install"
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Installed with any virtual environment (``python3 -m venv``) before ``pip install -e .``.
VENV_BASE = {"pip", "setuptools", "metriclab"}


def installed_closure() -> set[str]:
    """The normalised names of the distributions ``pip install -e .`` brings: ``dependencies``
    of ``pyproject.toml`` and, recursively, theirs (markers evaluated, extras only when asked)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [(Requirement(r), ()) for r in project["dependencies"]]
    seen = set(VENV_BASE)
    while todo:
        requirement, extras = todo.pop()
        marker = requirement.marker
        if marker and not any(marker.evaluate({"extra": e}) for e in ("", *extras)):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [
                (Requirement(r), tuple(requirement.extras)) for r in metadata.requires(name) or []
            ]
        except metadata.PackageNotFoundError:
            pass  # not installed here: nothing can import it in these tests either
    return seen


def tour_scripts() -> set[str]:
    """The scripts the README's install block and tour run (``train``, ``report``, ...)."""
    tour = README.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    install = README.split("```bash", 1)[1].split("```", 1)[0]
    found = set(re.findall(r"python (?:scripts/)?(\w+)\.py", tour + install))
    return found | ({"tensorboard"} if "tensorboard --logdir" in tour else set())


def test_the_install_line_brings_the_tour_s_own_imports():
    closure = installed_closure()
    for name in ("torch", "pytorch-lightning", "hydra-core", "faiss-cpu", "onnx", "tensorboard"):
        assert name in closure, name


@pytest.mark.slow
def test_readme_tour_runs_after_the_readme_install(tmp_path):
    refused_log = tmp_path / "refused.txt"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
        "HYDRA_FULL_ERROR": "0",
        "PYTHONPATH": str(FRESH),
        "METRICLAB_INSTALLED": json.dumps(sorted(installed_closure())),
        "METRICLAB_REFUSED_LOG": str(refused_log),
    }
    tiny = [a for a in TINY if not a.startswith("optimized_metric")] + ["trainer.max_epochs=2"]
    ran: set[str] = set()

    def run(script: str, *args: str) -> subprocess.CompletedProcess:
        path = ROOT / ("train.py" if script == "train" else f"scripts/{script}.py")
        command = [sys.executable, str(path), *args]
        if script == "tensorboard":
            command = [sys.executable, "-m", "tensorboard.main", "--version_tb"]
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        refused = refused_log.read_text() if refused_log.exists() else ""
        assert result.returncode == 0, (script, refused, result.stderr[-3000:])
        ran.add(script)
        return result

    run("train", *tiny, "loss=multisim", "miner=multisim", "hydra.run.dir=run")
    run("train", "-m", *tiny, "loss=contrastive,triplet", "hydra.sweep.dir=sweep")
    run("report", "sweep")
    run("train", "-m", "hparams_search=optuna", *tiny, "hydra.sweeper.n_trials=1")
    run("tensorboard")
    run("eval", "ckpt_path=run/checkpoints/best.ckpt")
    run("export", "ckpt_path=run/checkpoints/best.ckpt", "gallery=test")
    images = sorted((tmp_path / "run" / "export").rglob("*.png"))[:3]
    (tmp_path / "photos").mkdir()
    for image in images:
        shutil.copy(image, tmp_path / "photos" / image.name)
    run("retrieve", "index=run/export", f"query={images[0]}", "k=5")
    run("predict", "index=run/export", "query=photos/")
    assert tour_scripts() <= ran, f"README tour commands not run here: {tour_scripts() - ran}"
    assert (tmp_path / "sweep" / "report.md").is_file()
