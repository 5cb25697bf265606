"""Safe extraction of dataset archives (tar, tar.gz/bz2/xz, zip).

:func:`extract_archive` checks every member before writing anything and refuses one that would land
outside the target folder: an absolute path, a ``..`` path, a link pointing out, a device file.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

from tqdm import tqdm

from metriclab.errors import ConfigError


def _refuse(archive: Path, member: str, dest: Path, why: str) -> ConfigError:
    return ConfigError(
        f"refusing to extract {archive}: member {member!r} {why} {dest}; the archive is not safe"
    )


def _inside(dest: Path, relative: str) -> bool:
    target = (dest / relative).resolve()
    return target == dest or dest in target.parents


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Unpack a zip or tar (optionally gz/bz2/xz) archive into ``dest``, refusing unsafe members."""
    archive, dest = Path(archive), Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for m in members:
                if os.path.isabs(m.filename) or not _inside(dest, m.filename):
                    raise _refuse(archive, m.filename, dest, "would be written outside")
            for m in tqdm(members, desc=f"extract {archive.name}", unit="file"):
                zf.extract(m, dest)
        return
    if not tarfile.is_tarfile(archive):
        raise ConfigError(
            f"{archive} is neither a zip nor a tar archive; fetch the official file again"
        )
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for m in members:
            if os.path.isabs(m.name) or not _inside(dest, m.name):
                raise _refuse(archive, m.name, dest, "would be written outside")
            if m.issym() and not _inside(dest, os.path.join(os.path.dirname(m.name), m.linkname)):
                raise _refuse(archive, m.name, dest, "links outside")
            if m.islnk() and not _inside(dest, m.linkname):
                raise _refuse(archive, m.name, dest, "links outside")
            if m.isdev():
                raise _refuse(archive, m.name, dest, "is a device file, not allowed in")
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        for m in tqdm(members, desc=f"extract {archive.name}", unit="file"):
            tf.extract(m, dest, **safe)
