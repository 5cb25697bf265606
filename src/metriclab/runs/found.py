"""Finished runs read back: the run directories under a folder and their files, read forgivingly.

Shared by the per-run report (:mod:`~metriclab.runs.compare`) and the reality check
(:mod:`~metriclab.runs.reality_check`), which both read the runs of a sweep directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

#: Override keys that say where a run wrote, not what it ran (left out of a run's label).
SKIPPED = ("hydra.", "paths.", "hydra/")


def natural_key(path: Path) -> list[Any]:
    """``multirun/x/10`` after ``multirun/x/9``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def find_runs(root: Path) -> list[Path]:
    """Run directories under ``root`` (``root`` itself when it is a run)."""
    return sorted((p.parent.parent for p in root.rglob(".hydra/config.yaml")), key=natural_key)


def load(path: Path, default: Any = None) -> Any:
    """JSON or YAML file content, ``default`` when missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return default
