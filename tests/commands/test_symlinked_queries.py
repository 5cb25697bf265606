"""Query folders of symlinked images keep their class folders (paths are not resolved)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from metriclab.commands.retrieve import query_labels
from metriclab.deployment.embedding import folder_labels, list_images


def test_symlinked_images_keep_their_class_folder(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    queries = tmp_path / "queries"
    for name in ("cat", "dog"):
        image = store / f"{name}.png"
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(image)
        (queries / name).mkdir(parents=True)
        os.symlink(image, queries / name / "1.png")
    files = list_images(queries)
    assert all(f.startswith(str(queries)) for f in files)
    assert query_labels(files, queries, ["dog", "cat"]).tolist() == [1, 0]
    labels, names = folder_labels(files, queries)
    assert names == ["cat", "dog"] and labels.tolist() == [0, 1]
