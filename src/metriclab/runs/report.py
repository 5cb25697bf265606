"""What a finished run leaves: ``metrics.json`` (written atomically) and the printed table."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[IO], None],
    binary: bool = False,
    durable: bool = False,
) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    A reader never sees a half-written file, and a crash leaves the old file (or none) and at
    most a ``.<name>.*`` temporary. ``durable``: ``fsync`` the file and the folder too (a
    checkpoint survives a power cut). The file gets the mode a plain ``open()`` would give.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(
            fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})
        ) as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_atomic(path: str | os.PathLike, data: Mapping) -> Path:
    """Write ``data`` as sorted, indented JSON to ``path`` with :func:`atomic_write`."""

    def dump(f: IO) -> None:
        json.dump(dict(data), f, indent=2, sort_keys=True)
        f.write("\n")

    return atomic_write(path, dump)


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
