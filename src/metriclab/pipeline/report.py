"""What a finished run leaves: ``metrics.json`` (written atomically) and the printed table."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_json_atomic(path: str | os.PathLike, data: Mapping) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and a crash leaves the old file (or none).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(data), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def metrics_table(metrics: Mapping[str, float], title: str = "metrics") -> str:
    """A two-column plain-text table of ``metrics`` (floats with 4 decimals)."""
    rows = [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in metrics.items()]
    width = max([len(title)] + [len(k) for k, _ in rows])
    value_width = max([5] + [len(v) for _, v in rows])
    line = f"+-{'-' * width}-+-{'-' * value_width}-+"
    out = [line, f"| {title:<{width}} | {'value':>{value_width}} |", line]
    out += [f"| {k:<{width}} | {v:>{value_width}} |" for k, v in rows]
    out.append(line)
    return "\n".join(out)
