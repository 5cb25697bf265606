"""Fetch, verify and extract a dataset's official archives (used by ``scripts/prepare_data.py``).

- :func:`download_url` streams into ``<file>.part`` with a progress bar (resuming a ``.part`` left
  by an interrupted run when the server allows it) and renames it only once complete;
- :func:`verify_checksum` compares md5 / sha256 with the published values (a warning where none
  is published);
- :func:`~metriclab.data.extract.extract_archive` unpacks tar / tar.gz / zip and refuses members
  that would land outside the target folder (absolute paths, ``..``, links pointing out, devices);
- :func:`prepare_dataset` runs the three for every archive of a :class:`Source`; offline it stops
  with one line naming each URL, archive and the folder to put it in. A source may also name a
  *bundle*: one local archive holding the whole dataset (e.g. the Omniglot repack in
  ``../shared/data``), used instead of the official files when it is handed over or found.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from tqdm import tqdm

from metriclab.data.extract import extract_archive
from metriclab.data.readers._common import prepare_command
from metriclab.errors import ConfigError

log = logging.getLogger("metriclab.data")
__all__ = [
    "Archive",
    "Source",
    "download_url",
    "extract_archive",
    "file_digest",
    "prepare_dataset",
    "verify_checksum",
]
CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """One file of a dataset's official release."""

    filename: str
    url: str | None = None  # a direct download link; None where there is none (manual download)
    md5: str | None = None  # published checksums; None where none is known (not verified)
    sha256: str | None = None
    extract: bool = True  # False for files used as they are (e.g. a .mat annotation file)


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from and which folder its reader reads."""

    name: str
    archives: tuple[Archive, ...]
    reader: Callable | None = None
    data_root: str = "."  # relative to --root: the value for data.root once extracted
    manual: str = ""  # where to get the archives that have no direct URL
    bundle: Archive | None = None  # one local archive with the whole dataset (no official URL)
    bundle_root: str = "."  # relative to --root: data.root once the bundle is extracted


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """The hex digest (``"md5"`` or ``"sha256"``) of a file."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(
    path: str | os.PathLike, md5: str | None = None, sha256: str | None = None
) -> bool:
    """``True`` when ``path`` matches the given checksums, ``False`` (with a warning) when none is
    given; raises :class:`ConfigError` on a mismatch."""
    expected = {k: v.lower() for k, v in (("sha256", sha256), ("md5", md5)) if v}
    if not expected:
        log.warning("%s: no published checksum is known; not verified", Path(path).name)
        return False
    for algorithm, value in expected.items():
        actual = file_digest(path, algorithm)
        if actual != value:
            raise ConfigError(
                f"checksum mismatch for {path}: {algorithm} {actual}, the official one is {value}; "
                "the file is corrupt or incomplete: delete it and fetch it again "
                "(or pass --no-verify for a re-packed mirror)"
            )
    return True


def download_url(url: str, dest: str | os.PathLike, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` via ``dest.part``; network errors propagate as ``OSError``."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "metriclab-prepare-data"} | (
        {"Range": f"bytes={start}-"} if start else {}
    )
    try:
        response = urlopen(Request(url, headers=headers), timeout=timeout)
    except HTTPError as exc:
        if exc.code != 416 or not start:  # 416: the .part already holds the whole file
            raise
        os.replace(part, dest)
        return dest
    with response:
        if start and response.status != 206:
            start = 0  # the server ignored the Range header: start over
        length = response.headers.get("Content-Length")
        total = int(length) + start if length else None
        with (
            open(part, "ab" if start else "wb") as f,
            tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=dest.name) as bar,
        ):
            while block := response.read(CHUNK):
                f.write(block)
                bar.update(len(block))
    os.replace(part, dest)
    return dest


def _fetch_all(source: Source, root: Path, given: dict[str, Path]) -> dict[str, Path]:
    """The local path of every archive: handed over, already in ``root``, or downloaded there."""
    paths, missing = {}, []
    for archive in source.archives:
        path = given.get(archive.filename, root / archive.filename)
        if not path.is_file() and archive.url:
            try:
                download_url(archive.url, path)
            except (OSError, http.client.HTTPException) as exc:
                reason = exc if isinstance(exc, HTTPError) else getattr(exc, "reason", exc)
                missing.append(f"{archive.filename} from {archive.url} ({reason})")
                continue
        if not path.is_file():
            missing.append(f"{archive.filename} (no direct download)")
            continue
        paths[archive.filename] = path
    if missing:
        how = f"{source.manual}; " if source.manual else "download by hand, "
        raise ConfigError(
            f"{source.name}: could not fetch {', '.join(missing)}; {how}put the file(s) in {root} "
            f"(or pass --archive PATH) and re-run: {prepare_command(source.name, root)}"
        )
    return paths


def _local_bundle(
    source: Source, root: Path, given: dict[str, Path], search: Sequence[Path]
) -> Path | None:
    """The bundle archive to use: handed over, or (when no official archive is handed over or
    already in ``root``) found in ``root`` or in one of the ``search`` paths."""
    bundle = source.bundle
    if bundle is None:
        return None
    if bundle.filename in given:
        return given[bundle.filename]
    official = [a.filename for a in source.archives]
    if any(name in given or (root / name).is_file() for name in official):
        return None
    found = [p for p in (root / bundle.filename, *search) if p.is_file()]
    return found[0] if found else None


def _extract(source: Source, archive: Archive, path: Path, root: Path, verify: bool) -> None:
    if verify:
        verify_checksum(path, archive.md5, archive.sha256)
    else:
        log.warning("%s: checksum not verified (--no-verify)", archive.filename)
    if archive.extract:
        log.info("%s: extracting %s into %s", source.name, path, root)
        extract_archive(path, root)
    elif path.parent != root:
        shutil.copy2(path, root / archive.filename)


def prepare_dataset(
    source: Source,
    root: str | os.PathLike,
    archives: Sequence[str] = (),
    verify: bool = True,
    search: Sequence[str | os.PathLike] = (),
) -> Path:
    """Fetch, verify and extract every archive of ``source`` under ``root``; return ``data.root``.

    Args:
        source: the dataset's official files.
        root: the folder to download into and extract under (created if missing).
        archives: local copies of some archives (matched by file name), used instead of downloading.
        verify: compare checksums with the published ones (``--no-verify`` turns it off).
        search: where else to look for ``source.bundle`` (e.g. ``../shared/data/omniglot.tar.gz``).
    """
    root = Path(root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    given = {Path(a).name: Path(a).expanduser().resolve() for a in archives}
    known = [a.filename for a in (*source.archives, *filter(None, [source.bundle]))]
    for name, path in given.items():
        if name not in known or not path.is_file():
            raise ConfigError(
                f"{source.name}: --archive {path} is not a file named as one of "
                f"{', '.join(known)}; pass the official archive under its official name"
            )
    bundle = _local_bundle(source, root, given, [Path(p).expanduser() for p in search])
    if bundle is not None:
        log.info("%s: using the local archive %s", source.name, bundle)
        _extract(source, source.bundle, bundle.resolve(), root, verify)
        return (root / source.bundle_root).resolve()
    paths = _fetch_all(source, root, given)
    for archive in source.archives:
        _extract(source, archive, paths[archive.filename], root, verify)
    return (root / source.data_root).resolve()
