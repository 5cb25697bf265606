"""Loading an exported embedder: the kind ``index.json`` names, TorchScript or ONNX, gives the
model's embeddings; a kind the export lacks is one line naming those it has."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from metriclab.deployment.index import IndexMeta
from metriclab.deployment.loading import load_embedder
from metriclab.errors import ConfigError


def meta_of(models: dict[str, str]) -> IndexMeta:
    return IndexMeta(
        paths=[], labels=[], class_names=[], models=models, transform={}, embedding_size=4
    )


def test_each_kind_loads_its_own_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    scripted, onnx = (
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4)).eval() for _ in range(2)
    )
    images = torch.randn(5, 3, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(scripted, images[:2]).save(str(tmp_path / "embedder.pt"))
        torch.onnx.export(
            onnx,
            (images[:2],),
            str(tmp_path / "embedder.onnx"),
            input_names=["images"],
            output_names=["embeddings"],
            dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}},
            dynamo=False,
        )
    meta = meta_of({"torchscript": "embedder.pt", "onnx": "embedder.onnx"})
    with torch.no_grad():
        for kind, model in (("torchscript", scripted), ("onnx", onnx)):
            got = load_embedder(tmp_path, meta, kind)(images)  # 5 images: a dynamic batch
            torch.testing.assert_close(got, model(images), rtol=1e-5, atol=1e-5)


def test_a_kind_the_export_lacks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^model=onnx: the index has only torchscript; "):
        load_embedder(tmp_path, meta_of({"torchscript": "embedder.pt"}), "onnx")
