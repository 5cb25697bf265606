"""The bundle on disk, written so that a crash at any instant leaves the last acknowledged state.

An edit rewrites several files of the export folder together (``index.faiss``, ``index.json``,
``centroids.npy``, ``vectors.npy`` for a compressed index, and ``items.json``, the service's
sidecar). One ``os.replace`` is atomic, several are not, so :func:`commit` uses a redo log:

1. every new file is written beside its target as ``NAME.tmp-serve`` and fsynced;
2. ``serve-commit.json`` (the list of names) is written to a temporary file, fsynced and renamed
   into place: **this rename is the commit point**, and the service acknowledges the edit only
   after it;
3. each ``NAME.tmp-serve`` is renamed onto ``NAME``, then the log is deleted.

:func:`recover` (run before the bundle is read) finishes a commit whose log exists (the renames
are idempotent) and deletes temporary files without a log (an edit that never committed), so a
``kill -9`` at any point reopens exactly the acknowledged edits.

``items.json`` holds what ``index.json`` has no field for: the stable item id of every index row
(``ids``; an export without the file numbers its rows ``0..N-1``), the next id to hand out, and
the rows deleted from an index type that cannot delete (``dead``: tombstones, see
:mod:`metriclab.service.gallery`). ``digest`` (a hash of the rows' paths and labels it was
written for) detects an export rewritten since by ``scripts/export.py`` or ``scripts/enroll.py``:
its rows are then numbered afresh.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

ITEMS = "items.json"
LOG = "serve-commit.json"
TMP = ".tmp-serve"
LOCK = ".serve.lock"
UPLOADS = "items"  # enrolled images: UPLOADS/<id>.<ext>


@dataclass
class Items:
    """``items.json``: ``ids [N]`` (row -> stable id), ``next_id``, ``dead`` (tombstoned rows),
    ``digest`` (:func:`rows_digest` of the rows it describes)."""

    ids: list[int]
    next_id: int
    dead: list[int] = field(default_factory=list)
    digest: str = ""

    @classmethod
    def fresh(cls, n: int) -> Items:
        """Rows ``0..n-1`` with ids ``0..n-1``, nothing deleted."""
        return cls(ids=list(range(n)), next_id=n, dead=[])


def rows_digest(paths: list[str], labels: list[int]) -> str:
    """A hash of the index rows (their image paths and labels, in order)."""
    return hashlib.sha1(json.dumps([paths, labels]).encode("utf-8")).hexdigest()


def read_items(folder: Path, paths: list[str], labels: list[int]) -> Items:
    """``items.json`` of ``folder`` if it describes these rows, else fresh ids ``0..N-1``."""
    path = folder / ITEMS
    if path.is_file():
        got = Items(**json.loads(path.read_text(encoding="utf-8")))
        if got.digest == rows_digest(paths, labels) and len(got.ids) == len(paths):
            return got
    return Items.fresh(len(paths))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, write: Callable[[Path], None]) -> None:
    """``write(path)``, then fsync the file."""
    write(path)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def commit(folder: Path, writers: dict[str, Callable[[Path], None]]) -> None:
    """Replace the files ``writers`` names (``name -> write(path)``) all at once (module
    docstring). Returns after the commit point; a failure before it leaves the old files."""
    names = sorted(writers)
    try:
        for name in names:
            _write_synced(folder / f"{name}{TMP}", writers[name])
    except BaseException:
        for name in names:
            (folder / f"{name}{TMP}").unlink(missing_ok=True)
        raise
    log_tmp = folder / f"{LOG}{TMP}"
    _write_synced(log_tmp, lambda p: p.write_text(json.dumps(names), encoding="utf-8"))
    os.replace(log_tmp, folder / LOG)  # the commit point
    _fsync_dir(folder)
    _finish(folder, names)


def _finish(folder: Path, names: list[str]) -> None:
    for name in names:
        tmp = folder / f"{name}{TMP}"
        if tmp.exists():
            os.replace(tmp, folder / name)
    _fsync_dir(folder)
    (folder / LOG).unlink(missing_ok=True)


def recover(folder: Path) -> None:
    """Finish a committed edit, drop an uncommitted one (see the module docstring)."""
    log = folder / LOG
    if log.is_file():
        _finish(folder, json.loads(log.read_text(encoding="utf-8")))
    for stray in [*folder.glob(f"*{TMP}"), *(folder / UPLOADS).glob(f"*{TMP}")]:
        stray.unlink(missing_ok=True)


def items_writer(items: Items) -> Callable[[Path], None]:
    """A writer of ``items.json`` for :func:`commit`."""
    return lambda path: path.write_text(json.dumps(asdict(items)), encoding="utf-8")


def save_upload(folder: Path, item_id: int, data: bytes, suffix: str) -> Path:
    """Write an enrolled image as ``UPLOADS/<id><suffix>`` (temporary file, fsync, rename)."""
    (folder / UPLOADS).mkdir(exist_ok=True)
    path = folder / UPLOADS / f"{item_id}{suffix}"
    tmp = path.with_name(path.name + TMP)
    _write_synced(tmp, lambda p: p.write_bytes(data))
    os.replace(tmp, path)
    return path


def drop_orphan_uploads(folder: Path, referenced: set[str]) -> None:
    """Delete enrolled images no index row names (an enrolment that never committed)."""
    for path in (folder / UPLOADS).glob("*"):
        if path.is_file() and os.path.abspath(path) not in referenced:
            path.unlink(missing_ok=True)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on the bundle across processes (workers, a second service)."""
    with open(folder / LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
