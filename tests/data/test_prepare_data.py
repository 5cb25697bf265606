"""``python scripts/prepare_data.py NAME --root DIR`` end to end, in a subprocess, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fixtures
import pytest

from metriclab.data.readers import read_cifar10, read_omniglot

REPO = Path(__file__).resolve().parents[2]
OFFLINE = "http://127.0.0.1:9"  # a proxy that refuses every connection: no network, at once


def prepare(*args: str, offline: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    if offline:
        env |= {k: OFFLINE for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    command = [sys.executable, str(REPO / "scripts" / "prepare_data.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def test_local_archives_are_extracted_and_data_root_printed(tmp_path):
    fixtures.make_omniglot_official(tmp_path / "raw")
    args = []
    for name in ("images_background", "images_evaluation"):
        archive = fixtures.make_archive(tmp_path / "raw" / name, tmp_path / "dl" / f"{name}.zip")
        args += ["--archive", str(archive)]
    root = tmp_path / "datasets" / "omniglot"
    # fixture archives are not the official files: --no-verify skips the (official) md5 check
    result = prepare("omniglot", "--root", str(root), *args, "--no-verify")
    assert result.returncode == 0, result.stderr
    assert f"data.root={root}" in result.stdout.splitlines()
    assert "python train.py data=omniglot data.root=" in result.stdout
    assert "omniglot: train 6 images / 3 classes, test 4 images / 2 classes" in result.stderr
    assert "checksum not verified" in result.stderr
    assert len(read_omniglot(str(root))["train"]) == 6


def test_cifar_archive_in_root_data_root_is_the_batches_folder(tmp_path):
    fixtures.make_cifar10(tmp_path / "raw")
    root = tmp_path / "cifar"
    fixtures.make_archive(tmp_path / "raw" / "cifar-10-batches-py", root / "cifar-10-python.tar.gz")
    result = prepare("cifar10", "--root", str(root), "--no-verify")
    assert result.returncode == 0, result.stderr
    assert f"data.root={root / 'cifar-10-batches-py'}" in result.stdout
    assert len(read_cifar10(str(root / "cifar-10-batches-py"))["train"]) == 30


def test_corrupted_archive_fails_verification_in_one_line(tmp_path):
    fixtures.make_cifar10(tmp_path / "raw")
    archive = fixtures.make_archive(
        tmp_path / "raw" / "cifar-10-batches-py", tmp_path / "dl" / "cifar-10-python.tar.gz"
    )
    result = prepare("cifar10", "--root", str(tmp_path / "root"), "--archive", str(archive))
    assert result.returncode == 1
    message = result.stderr.strip()
    assert "\n" not in message
    assert "checksum mismatch" in message and str(archive) in message
    assert "c58f30108f718f92721af3b95e74349a" in message  # the published md5
    assert not (tmp_path / "root" / "cifar-10-batches-py").exists()


@pytest.mark.parametrize(
    "name, parts",
    [
        (
            "cifar100",
            ["https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz"],
        ),
        ("omniglot", ["images_background.zip", "images_evaluation.zip", "brendenlake/omniglot"]),
        (
            "sop",
            ["Stanford_Online_Products.zip", "https://cvgl.stanford.edu/projects/lifted_struct/"],
        ),
        ("inshop", ["img.zip", "list_eval_partition.txt", "DeepFashion"]),
    ],
)
def test_offline_says_which_archive_to_fetch_and_where(tmp_path, name, parts):
    root = tmp_path / "root"
    result = prepare(name, "--root", str(root), "--no-local")  # not ../shared/data/omniglot.tar.gz
    assert result.returncode == 1
    message = result.stderr.strip()
    assert "\n" not in message
    for part in [*parts, str(root), f"python scripts/prepare_data.py {name} --root {root}"]:
        assert part in message, (part, message)
    assert not [p for p in root.iterdir() if not p.name.endswith(".part")]


def test_omniglot_bundle_archive_is_extracted_and_its_root_printed(tmp_path):
    raw = fixtures.make_omniglot_flat(tmp_path / "raw")
    bundle = fixtures.make_archive(raw, tmp_path / "shared" / "omniglot.tar.gz")
    root = tmp_path / "datasets"
    result = prepare("omniglot", "--root", str(root), "--archive", str(bundle), "--no-verify")
    assert result.returncode == 0, result.stderr
    assert f"data.root={root / 'omniglot'}" in result.stdout.splitlines()
    assert f"using the local archive {bundle}" in result.stderr
    assert "omniglot: train 6 images / 3 classes, test 4 images / 2 classes" in result.stderr
