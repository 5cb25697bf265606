"""``run_info.json``: what it takes to repeat a run (seed, command, library versions).

Written atomically into the run directory when a run starts; a resumed run keeps the original
entry and appends ``{"started", "command", "overrides"}`` to ``resumes``, and warns when its
overrides differ from the original ones (the result then is not the one the seed promises).
"""

from __future__ import annotations

import json
import logging
import platform
import shlex
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from metriclab.runs.report import write_json_atomic

log = logging.getLogger("metriclab")

#: distribution names whose versions are recorded (first installed alternative wins).
LIBRARIES = {
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "pytorch-lightning": ("pytorch-lightning", "lightning"),
    "hydra-core": ("hydra-core",),
    "omegaconf": ("omegaconf",),
    "faiss": ("faiss-cpu", "faiss-gpu", "faiss-gpu-cu12", "faiss"),
    "numpy": ("numpy",),
    "metriclab": ("metriclab",),
}
IGNORED_ON_RESUME = ("ckpt_path", "hydra.", "trainer.max_epochs")


def library_versions() -> dict[str, str | None]:
    """``{"python": "3.11.9", "torch": "2.x", ...}``; ``None`` for a library not installed."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name, dists in LIBRARIES.items():
        versions[name] = None
        for dist in dists:
            try:
                versions[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    try:
        import torch

        versions["cuda"] = torch.version.cuda
    except ImportError:  # pragma: no cover
        pass
    return versions


def task_overrides(cfg: DictConfig) -> list[str]:
    """The command-line overrides of this run (from Hydra's record, else ``sys.argv``)."""
    recorded = OmegaConf.select(cfg, "hydra.overrides.task", default=None)
    if recorded is not None:
        return [str(o) for o in recorded]
    return [a for a in sys.argv[1:] if "=" in a and not a.startswith("-")]


def _comparable(overrides: list[str]) -> set[str]:
    return {o for o in overrides if not o.lstrip("+~").startswith(IGNORED_ON_RESUME)}


def write_run_info(cfg: DictConfig, output_dir: Path, resuming: bool) -> dict[str, Any]:
    """Write (or, when resuming, extend) ``output_dir/run_info.json``; return its content."""
    path = output_dir / "run_info.json"
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    entry = {
        "started": now,
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "overrides": task_overrides(cfg),
    }
    previous: dict[str, Any] = {}
    if resuming and path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
    if previous:
        info = {**previous, "resumes": [*previous.get("resumes", []), entry]}
        changed = _comparable(entry["overrides"]) ^ _comparable(previous.get("overrides", []))
        if changed:
            log.warning(
                "resuming with other overrides than the run started with (differences: %s); "
                "the result will not be the one the seed reproduces",
                ", ".join(sorted(changed)),
            )
    else:
        info = {
            "seed": int(cfg.seed),
            **entry,
            "output_dir": str(output_dir),
            "platform": platform.platform(),
            "versions": library_versions(),
            "resumes": [],
        }
    write_json_atomic(path, info)
    return info
