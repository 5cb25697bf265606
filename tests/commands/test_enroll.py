"""``scripts/enroll.py``: enrol a class -> predict finds it -> remove it -> the index is back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from openset_folders import folders_fixture  # noqa: F401  (the "folders" fixture)

from metriclab.commands import enroll, export, predict
from metriclab.deployment.index import load_index

ROOT = Path(__file__).resolve().parents[2]


def _state(folder: Path):
    index, meta = load_index(folder)
    return index.reconstruct_n(0, index.ntotal), meta, np.load(folder / "centroids.npy")


@pytest.fixture()
def exported(digits_run: Path, folders, tmp_path: Path) -> Path:
    argv = [
        f"ckpt_path={digits_run}",
        f"gallery={folders['enrolled']}",
        f"out={tmp_path / 'x'}",
        "onnx=false",
        "progress=false",
    ]
    assert export.main(argv) == 0
    return tmp_path / "x"


@pytest.mark.slow
def test_enrol_predict_remove_round_trip(exported: Path, folders, tmp_path: Path) -> None:
    before_vectors, before, before_centroids = _state(exported)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "enroll.py"),
            f"index={exported}",
            f"add={folders['nine']}",
            "name=nine",
            "progress=false",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "enrolled new class 'nine' (id 3): 10 image(s), now 10" in result.stdout
    vectors, meta, centroids = _state(exported)
    assert meta.class_names == ["5", "6", "7", "nine"] and meta.labels[-10:] == [3] * 10
    np.testing.assert_allclose(vectors[: len(before_vectors)], before_vectors)
    np.testing.assert_allclose(centroids[3], vectors[-10:].mean(axis=0), atol=1e-6)

    options = {
        **predict.OPTIONS,
        "index": str(exported),
        "query": str(folders["nine"]),
        "out": str(tmp_path / "p"),
        "k": 1,
        "pictures": False,
        "progress": False,
    }
    rows = predict.predict(options)
    assert [r["answer"] for r in rows] == ["nine"] * 10  # each finds itself first
    assert all(r["confidence"] == pytest.approx(1.0, abs=1e-4) for r in rows)
    rows = predict.predict({**options, "classifier": "centroid", "k": 0})
    assert np.mean([r["answer"] == "nine" for r in rows]) >= 0.5

    assert enroll.main([f"index={exported}", "remove=nine"]) == 0
    vectors, meta, centroids = _state(exported)
    assert (meta.paths, meta.labels, meta.class_names) == (
        before.paths,
        before.labels,
        before.class_names,
    )
    np.testing.assert_array_equal(vectors, before_vectors)
    np.testing.assert_allclose(centroids, before_centroids, atol=1e-7)


def test_adding_to_a_class_and_removing_a_middle_class(exported: Path, folders) -> None:
    _, before, centroids0 = _state(exported)
    assert (
        enroll.main(
            [f"index={exported}", f"add={folders['queries'] / '6'}", "name=6", "progress=false"]
        )
        == 0
    )
    vectors, meta, centroids = _state(exported)
    extra = len(meta.paths) - len(before.paths)
    assert extra > 0 and meta.class_names == before.class_names
    rows6 = np.asarray(meta.labels) == 1
    np.testing.assert_allclose(centroids[1], vectors[rows6].mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(centroids[[0, 2]], centroids0[[0, 2]])
    assert enroll.main([f"index={exported}", "remove=6"]) == 0
    vectors, meta, centroids = _state(exported)
    assert meta.class_names == ["5", "7"] and set(meta.labels) == {0, 1}
    assert len(vectors) == len(meta.paths) == before.labels.count(0) + before.labels.count(2)
    np.testing.assert_allclose(centroids, centroids0[[0, 2]], atol=1e-6)
    assert json.loads((exported / "index.json").read_text())["class_names"] == ["5", "7"]


def test_enroll_errors(exported: Path, capsys) -> None:
    assert enroll.main([f"index={exported}"]) == 2
    assert "pass exactly one of add=FOLDER" in capsys.readouterr().err
    assert enroll.main([f"index={exported}", "remove=cat"]) == 2
    assert (
        "remove=cat: no such class in the index; its classes are 5, 6, 7" in capsys.readouterr().err
    )
