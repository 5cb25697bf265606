"""``scripts/export.py`` -> ``scripts/retrieve.py``: exported models match the checkpoint, and
every gallery image queried against its own index finds itself first."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from cli import error_lines, last_line, run_script
from PIL import Image

from metriclab.commands import app, export
from metriclab.commands import retrieve as search
from metriclab.deployment.embedding import ImageFiles, eval_transform
from metriclab.deployment.index import load_index
from metriclab.deployment.loading import load_model, load_torchscript, onnx_embedder, open_run


@pytest.fixture(scope="module")
def exported(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export")
    options = {**export.OPTIONS, "ckpt_path": str(digits_run), "out": str(out), "progress": False}
    assert export.main([f"{k}={v}" for k, v in options.items() if v is not None]) == 0
    return out


def test_exported_models_match_the_checkpoint(digits_run: Path, exported: Path) -> None:
    index, meta = load_index(exported)
    assert set(meta.models) == {"torchscript", "onnx"}
    assert all(diff <= 1e-4 for diff in meta.check.values())
    assert index.ntotal == len(meta.paths) == len(meta.labels) == 896  # digits 5-9
    assert meta.class_names == ["5", "6", "7", "8", "9"]
    files = meta.paths[::37]
    dataset = ImageFiles(files, None, eval_transform(meta.transform), meta.transform["channels"])
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    with torch.inference_mode():
        want = load_model(open_run(str(digits_run))).eval()(images)
    scripted = load_torchscript(exported / meta.models["torchscript"])
    onnx = onnx_embedder(exported / meta.models["onnx"])
    for model in (scripted, onnx):
        with torch.inference_mode():
            got = model(images)
        assert got.shape == want.shape == (len(files), 16)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    stored = index.reconstruct_n(0, index.ntotal)[::37]  # the index holds normalised embeddings
    np.testing.assert_allclose(stored, torch.nn.functional.normalize(want).numpy(), atol=1e-4)


def test_every_gallery_image_retrieves_itself_first(exported: Path, capsys) -> None:
    out = exported / "views"
    options = {**search.OPTIONS, "index": str(exported), "query": str(exported / "gallery")}
    results = search.retrieve(
        {**options, "k": 3, "out": str(out), "progress": False, "thumbnail": 24}
    )
    _, meta = load_index(exported)
    assert sorted(q for q, _ in results) == sorted(meta.paths)
    for query, matches in results:
        assert matches[0].path == query
        assert matches[0].similarity == pytest.approx(1.0, abs=1e-4)
        assert matches[0].similarity >= matches[1].similarity >= matches[2].similarity
    printed = capsys.readouterr().out
    first = Path(results[0][0])  # gallery/<class name>/...: the class is named, not numbered
    assert f"query {first} (class {first.parent.name})" in printed and "1.0000" in printed
    assert f"class {first.parent.name:>8}  {first}" in printed
    sheets = sorted(out.glob("*.png"))
    assert len(sheets) == len(results)
    sheet = np.asarray(Image.open(sheets[0]).convert("RGB"))
    assert ((sheet == (40, 170, 60)).all(axis=2)).any()  # the first match: a green frame
    page = (out / "index.html").read_text()
    assert page.count("<img ") == len(results)
    first_rel = os.path.relpath(results[0][0], out)  # paths relative to the page, none absolute
    assert f"<code>{first_rel}</code> · class {first.parent.name}</h2>" in page
    assert str(exported) not in page and "same class" in page  # and a legend


def test_folder_gallery_and_onnx_queries(digits_run: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (tmp_path / "gallery" / name).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (12, 10), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "gallery" / name / f"{i}.png")
    out = tmp_path / "export"
    gallery = tmp_path / "gallery"
    assert export.main([f"ckpt_path={digits_run}", f"gallery={gallery}", f"out={out}"]) == 0
    index, meta = load_index(out)
    assert meta.class_names == ["cat", "dog"] and meta.labels == [0, 0, 0, 1, 1, 1]
    query = gallery / "dog" / "1.png"
    options = {**search.OPTIONS, "index": str(out), "query": str(query), "model": "onnx"}
    [(path, matches)] = search.retrieve({**options, "k": 10, "progress": False})
    assert path == str(query.resolve()) and matches[0].path == path
    assert len(matches) == 6  # k is capped at the index size
    assert json.loads((out / "index.json").read_text())["source"] == str(gallery)


def test_export_errors(digits_run: Path, tmp_path: Path, capsys) -> None:
    assert export.main([f"ckpt_path={digits_run}", "gallery=query", f"out={tmp_path}"]) == 2
    assert "gallery=query: the data has no query split" in capsys.readouterr().err
    assert export.main([f"ckpt_path={digits_run}", f"gallery={tmp_path}/none"]) == 2
    assert "none is neither an image file nor a folder" in capsys.readouterr().err


def test_retrieve_errors(tmp_path: Path, capsys) -> None:
    assert search.main([f"index={tmp_path}", "query=x.png"]) == 2
    assert "no index.faiss + index.json there" in capsys.readouterr().err
    assert search.main(["k=3", "colour=red"]) == 2
    assert "error: colour: no such setting of retrieve.py" in capsys.readouterr().err


COMMANDS = ("export", "retrieve", "predict")


@pytest.mark.parametrize("script", COMMANDS)
def test_help_lists_every_setting(script: str, tmp_path: Path) -> None:
    result = run_script(script, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"python scripts/{script}.py ")
    settings = app.defaults(script)
    assert len(settings) >= 8
    for key, value in settings.items():  # configs/<script>.yaml, defaults shown
        shown = "null" if value is None else str(value).lower()
        assert f"\n{key}: {shown}\n" in result.stdout, key
    assert result.stderr == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("script", "token", "line"),
    [
        ("retrieve", "colour=red", "error: colour: no such setting of retrieve.py; the settings "),
        ("predict", "k=abc", "error: k=abc: expected a int"),
        ("export", "datta.root=/x", "error: datta.root: no such setting of export.py nor of "),
        ("export", "onnx=maybe", "error: onnx=maybe: expected true or false"),
        ("retrieve", "query=a,b", "error: query=a,b: a list of values is a sweep (pass -m) or"),
        ("predict", "query", "error: expected key=value, got 'query'; e.g. index=..."),
    ],
)
def test_a_mistake_is_one_error_line_and_writes_nothing(
    script: str, token: str, line: str, tmp_path: Path
) -> None:
    given = ["ckpt_path=somewhere"] if script == "export" else ["index=somewhere", "query=q.png"]
    result = run_script(script, *given, token, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines() == [last_line(result.stderr)]
    assert error_lines(result)[0].startswith(line), result.stderr
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra/, no log
