"""Downloading (local HTTP server), checksum verification, safe extraction, prepare_dataset."""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import fixtures
import pytest

from metriclab.data.download import (
    Archive,
    Source,
    download_url,
    extract_archive,
    prepare_dataset,
    verify_checksum,
)
from metriclab.data.readers import read_omniglot
from metriclab.errors import ConfigError

UNREACHABLE = "http://127.0.0.1:9/dataset.tgz"  # the discard port: connection refused at once


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path):
    """``(folder, base URL)`` of a local HTTP server (it ignores Range headers)."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_verify_checksum(tmp_path, caplog):
    path = tmp_path / "a.bin"
    path.write_bytes(b"metriclab" * 1000)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert verify_checksum(path, md5=md5, sha256=sha.upper())
    with caplog.at_level(logging.WARNING, logger="metriclab.data"):
        assert verify_checksum(path) is False
    assert any("no published checksum" in m for m in caplog.messages)
    path.write_bytes(b"metriclab" * 999 + b"corrupted")
    with pytest.raises(ConfigError) as info:
        verify_checksum(path, md5=md5)
    message = str(info.value)
    assert "\n" not in message and "checksum mismatch" in message and str(path) in message


def test_download_to_part_file_then_rename(http_dir, tmp_path):
    folder, url = http_dir
    payload = bytes(range(256)) * 5000
    (folder / "data.tgz").write_bytes(payload)
    dest = tmp_path / "out" / "data.tgz"
    dest.parent.mkdir()
    # a stale .part from an interrupted run; this server ignores Range, so it starts over
    (dest.parent / "data.tgz.part").write_bytes(b"stale bytes")
    assert download_url(f"{url}/data.tgz", dest) == dest
    assert dest.read_bytes() == payload
    assert not (dest.parent / "data.tgz.part").exists()
    with pytest.raises(OSError):
        download_url(f"{url}/absent.tgz", tmp_path / "absent.tgz")
    assert not (tmp_path / "absent.tgz").exists()


def _tar_with(path, name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    with tarfile.open(path, "w:gz") as tf:
        tf.addfile(tarfile.TarInfo("ok/fine.txt"), io.BytesIO(b""))
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.size = kind, link, 4
        tf.addfile(info, io.BytesIO(b"evil") if kind == tarfile.REGTYPE else None)


@pytest.mark.parametrize(
    "name, kind, link",
    [
        ("../evil.txt", tarfile.REGTYPE, ""),
        ("ok/../../evil.txt", tarfile.REGTYPE, ""),
        ("/tmp/evil.txt", tarfile.REGTYPE, ""),
        ("ok/link", tarfile.SYMTYPE, "../../etc/passwd"),
        ("ok/hard", tarfile.LNKTYPE, "../outside"),
    ],
)
def test_tar_path_traversal_is_refused(tmp_path, name, kind, link):
    archive = tmp_path / "evil.tar.gz"
    _tar_with(archive, name, kind, link)
    dest = tmp_path / "dest"
    with pytest.raises(ConfigError, match="refusing to extract"):
        extract_archive(archive, dest)
    assert not (tmp_path / "evil.txt").exists()
    assert not (dest / "ok" / "fine.txt").exists()  # refused before writing anything


def test_zip_path_traversal_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../evil.txt", "evil")
    with pytest.raises(ConfigError, match="refusing to extract"):
        extract_archive(archive, tmp_path / "dest")
    assert not (tmp_path / "evil.txt").exists()


def test_extract_tar_and_zip_and_reject_other_files(tmp_path):
    fixtures.make_class_folders(tmp_path / "src", {"a": 2})
    for suffix in (".tar.gz", ".zip"):
        archive = fixtures.make_archive(tmp_path / "src", tmp_path / f"pack{suffix}", arcname="top")
        extract_archive(archive, tmp_path / suffix)
        assert sorted(p.name for p in (tmp_path / suffix / "top" / "a").iterdir()) == [
            "0.png",
            "1.png",
        ]
    (tmp_path / "plain.bin").write_bytes(b"plain")
    with pytest.raises(ConfigError, match="neither a zip nor a tar"):
        extract_archive(tmp_path / "plain.bin", tmp_path / "x")


def _omniglot_source(tmp_path, **overrides) -> Source:
    """An omniglot Source whose archives are fixture zips with their real md5."""
    fixtures.make_omniglot_official(tmp_path / "raw")
    archives = []
    for name in ("images_background", "images_evaluation"):
        zipped = fixtures.make_archive(tmp_path / "raw" / name, tmp_path / "local" / f"{name}.zip")
        md5 = hashlib.md5(zipped.read_bytes()).hexdigest()
        archives.append(Archive(f"{name}.zip", md5=md5, **overrides))
    return Source("omniglot", tuple(archives), reader=read_omniglot)


def test_prepare_dataset_verifies_and_extracts_local_archives(tmp_path):
    source = _omniglot_source(tmp_path)
    local = [
        str(tmp_path / "local" / f"{n}.zip") for n in ("images_background", "images_evaluation")
    ]
    data_root = prepare_dataset(source, tmp_path / "root", archives=local)
    assert data_root == (tmp_path / "root").resolve()
    splits = read_omniglot(str(data_root))
    assert (len(splits["train"]), len(splits["test"])) == (6, 4)
    # an archive already in the root is used as it is (no download): corrupt one, it is caught
    (tmp_path / "local" / "images_evaluation.zip").rename(
        tmp_path / "root" / "images_evaluation.zip"
    )
    with open(tmp_path / "root" / "images_evaluation.zip", "r+b") as f:
        f.seek(40)
        f.write(b"XXXX")
    with pytest.raises(ConfigError, match="checksum mismatch .*images_evaluation.zip"):
        prepare_dataset(source, tmp_path / "root", archives=local[:1])


def test_prepare_dataset_offline_names_url_archive_and_folder(tmp_path):
    source = Source("cub", (Archive("CUB_200_2011.tgz", url=UNREACHABLE, md5="0" * 32),))
    with pytest.raises(ConfigError) as info:
        prepare_dataset(source, tmp_path / "root")
    message = str(info.value)
    assert "\n" not in message
    for part in (
        UNREACHABLE,
        "CUB_200_2011.tgz",
        str(tmp_path / "root"),
        "prepare_data.py cub --root",
    ):
        assert part in message
    assert not list((tmp_path / "root").iterdir())  # no partial file under the final name


def test_prepare_dataset_manual_source_and_wrong_archive_name(tmp_path):
    source = Source("sop", (Archive("Stanford_Online_Products.zip"),), manual="get it from PAGE")
    with pytest.raises(ConfigError) as info:
        prepare_dataset(source, tmp_path)
    assert "Stanford_Online_Products.zip" in str(info.value) and "get it from PAGE" in str(
        info.value
    )
    other = tmp_path / "other.zip"
    other.write_bytes(b"x")
    with pytest.raises(
        ConfigError, match="not a file named as one of Stanford_Online_Products.zip"
    ):
        prepare_dataset(source, tmp_path, archives=[str(other)])


def _bundle_source(tmp_path) -> tuple[Source, str]:
    """Omniglot with unreachable official zips and a fixture bundle ``omniglot.tar.gz``."""
    bundle = fixtures.make_archive(
        fixtures.make_omniglot_flat(tmp_path / "raw"), tmp_path / "shared" / "omniglot.tar.gz"
    )
    official = tuple(Archive(f"{n}.zip", url=UNREACHABLE) for n in ("bg", "ev"))
    md5 = hashlib.md5(bundle.read_bytes()).hexdigest()
    source = Source(
        "omniglot",
        official,
        reader=read_omniglot,
        bundle=Archive("omniglot.tar.gz", md5=md5),
        bundle_root="omniglot",
    )
    return source, str(bundle)


def test_bundle_found_in_search_path_or_handed_over_replaces_the_official_files(tmp_path):
    source, bundle = _bundle_source(tmp_path)
    missing = tmp_path / "nowhere" / "omniglot.tar.gz"
    data_root = prepare_dataset(source, tmp_path / "a", search=[missing, bundle])
    assert data_root == (tmp_path / "a" / "omniglot").resolve()
    splits = read_omniglot(str(data_root))
    assert (len(splits["train"]), len(splits["test"])) == (6, 4)
    assert splits["test"].classes.tolist() == [4, 5]  # sorted folders 0965, 0966 after 3
    data_root = prepare_dataset(source, tmp_path / "b", archives=[bundle])
    assert (data_root / "images_evaluation" / "0966" / "0966_02.png").is_file()
    with open(bundle, "r+b") as f:  # the bundle's checksum is verified too
        f.seek(30)
        f.write(b"XXXX")
    with pytest.raises(ConfigError, match="checksum mismatch .*omniglot.tar.gz"):
        prepare_dataset(source, tmp_path / "c", search=[bundle])


def test_official_archives_take_precedence_over_a_bundle(tmp_path):
    source, bundle = _bundle_source(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bg.zip").write_bytes(b"not checked: the download of ev.zip fails first")
    with pytest.raises(ConfigError, match="could not fetch ev.zip from http://127.0.0.1:9"):
        prepare_dataset(source, tmp_path / "d", search=[bundle])
    with pytest.raises(ConfigError, match="could not fetch bg.zip .*, ev.zip"):
        prepare_dataset(source, tmp_path / "e")  # no bundle anywhere: the official files
