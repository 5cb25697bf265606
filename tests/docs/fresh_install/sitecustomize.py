"""Imports as after the README's ``pip install -e .``, in the test environment (tests only).

Loaded by Python at start-up when this folder is on ``PYTHONPATH``. A top-level import whose
distribution is not in ``METRICLAB_INSTALLED`` (a JSON list of normalised distribution names: the
dependency closure of ``pyproject.toml``'s ``dependencies``) fails with ``ModuleNotFoundError``,
as it would in a fresh virtual environment; the names refused go to ``METRICLAB_REFUSED_LOG``.
Modules of no distribution (the standard library, ``metriclab`` itself) import as usual.
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib.metadata import packages_distributions

_INSTALLED = set(json.loads(os.environ.get("METRICLAB_INSTALLED", "[]")))
_OWNERS = packages_distributions()
_LOG = os.environ.get("METRICLAB_REFUSED_LOG")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class _FreshInstall:
    """A meta-path finder that refuses modules a fresh install would not have."""

    @staticmethod
    def find_spec(name, path=None, target=None):  # noqa: ANN001, ANN205 - the finder protocol
        if "." in name or name in sys.modules:
            return None
        owners = _OWNERS.get(name)
        if not owners or any(_normal(d) in _INSTALLED for d in owners):
            return None
        if _LOG:
            with open(_LOG, "a", encoding="utf-8") as log:
                log.write(f"{name} {' '.join(owners)}\n")
        raise ModuleNotFoundError(f"No module named {name!r} (not in a fresh install)", name=name)


if _INSTALLED:
    sys.meta_path.insert(0, _FreshInstall())
