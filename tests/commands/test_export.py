"""``scripts/export.py`` never deletes or overwrites what it did not write: a folder of other files
is refused, a previous export is replaced whole (written beside, then swapped), a missing ONNX
package is one line before anything is written, and an export without calibration says that
predict.py will reject nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli import error_lines, last_line, run_script

from metriclab.commands import app, export
from metriclab.deployment.index import load_index

FAST = ["onnx=false", "progress=false"]


def _siblings(out: Path) -> list[str]:
    """Staging or set-aside folders an export left beside ``out``."""
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*"))


def test_a_folder_of_user_files_is_refused_untouched(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "D"
    keep = out / "gallery" / "my_photos" / "keep.jpg"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"a user's photo")
    (out / "index.json").write_text('{"mine": 1}')
    result = run_script("export", f"ckpt_path={digits_run}", "gallery=test", f"out={out}", *FAST)
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_lines(result) == [last_line(result.stderr)]
    assert last_line(result.stderr) == (
        f"error: out={out} holds files and is not a previous export (no index.json of format "
        "metriclab-index/1); nothing was written: pass a new or empty folder"
    )
    assert keep.read_bytes() == b"a user's photo"
    assert (out / "index.json").read_text() == '{"mine": 1}'
    assert sorted(p.name for p in out.iterdir()) == ["gallery", "index.json"]
    assert _siblings(out) == []


@pytest.mark.slow  # a whole export in a subprocess: about 12 s on a loaded 2-core machine
def test_a_previous_export_is_replaced_whole(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "E"
    assert export.main([f"ckpt_path={digits_run}", f"out={out}", *FAST]) == 0
    (out / "notes.txt").write_text("mine")  # a user's file beside the export, and a result
    (out / "retrieval").mkdir()
    (out / "retrieval" / "0000_q.png").write_bytes(b"png")
    (out / "embedder.onnx").write_bytes(b"stale")  # an export's own file it will not rewrite
    result = run_script("export", f"ckpt_path={digits_run}", f"out={out}", *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    assert last_line(result.stdout) == export.NO_THRESHOLD  # item 16: says no rejection
    index, meta = load_index(out)
    assert index.ntotal == len(meta.paths) == 896 and meta.models == {"torchscript": "embedder.pt"}
    assert all(Path(p).is_file() and Path(p).parent.parent == out / "gallery" for p in meta.paths)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "retrieval" / "0000_q.png").read_bytes() == b"png"
    assert not (out / "embedder.onnx").exists()  # the old export's, removed with it
    assert _siblings(out) == []


def test_a_previous_export_whose_gallery_holds_user_files_is_refused(
    digits_run: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "E"
    assert export.main([f"ckpt_path={digits_run}", f"out={out}", *FAST]) == 0
    before = (out / "index.json").read_text()
    mine = out / "gallery" / "5" / "mine.jpg"
    mine.write_bytes(b"x")
    assert export.main([f"ckpt_path={digits_run}", f"out={out}", *FAST]) == 2
    assert f"its gallery/ holds {mine}, which the export did not write" in capsys.readouterr().err
    assert mine.read_bytes() == b"x" and (out / "index.json").read_text() == before
    assert _siblings(out) == []


def test_a_missing_onnx_package_is_one_line_before_anything_is_written(
    digits_run: Path, tmp_path: Path
) -> None:
    shim = tmp_path / "shim"  # shadows the installed packages: `pip install -e .` without them
    for name in ("onnx", "onnxruntime", "onnxscript"):
        (shim / name).mkdir(parents=True)
        (shim / name / "__init__.py").write_text(
            f'raise ModuleNotFoundError("No module named {name!r}", name={name!r})\n'
        )
    out = tmp_path / "export"
    result = run_script(
        "export",
        f"ckpt_path={digits_run}",
        f"out={out}",
        "progress=false",
        env={"PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])},
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_lines(result) == [last_line(result.stderr)]
    assert last_line(result.stderr) == (
        "error: onnx=true needs the onnx package, which cannot be imported (No module named "
        "'onnx'); pip install onnx onnxruntime onnxscript (or pip install -e . again), "
        "or pass onnx=false"
    )
    assert not out.exists() and list(tmp_path.glob(".export*")) == []


def test_onnx_packages_are_core_dependencies() -> None:
    import tomllib

    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    core = " ".join(tomllib.loads(text)["project"]["dependencies"])
    for name in export.ONNX_MODULES:  # the README tour exports after `pip install -e .`
        assert f"{name}>=" in core


@pytest.mark.parametrize("content", ["file", "json"])
def test_out_that_is_a_file_or_a_foreign_index_json(
    digits_run: Path, tmp_path: Path, capsys, content: str
) -> None:
    out = tmp_path / "x"
    if content == "file":
        out.write_text("mine")
        want = f"out={out} is a file, not a folder"
    else:
        out.mkdir()
        (out / "index.json").write_text(json.dumps({"format": "someone-else/1"}))
        want = f"out={out} holds files and is not a previous export"
    assert export.main([f"ckpt_path={digits_run}", f"out={out}", *FAST]) == 2
    assert want in capsys.readouterr().err


def test_a_relative_out_is_replaced_from_another_folder(
    digits_run: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert export.main([f"ckpt_path={digits_run}", "out=rel", *FAST]) == 0
    first = load_index(tmp_path / "rel")[1].paths[0]
    assert not Path(first).is_absolute()  # recorded as given: rel/gallery/<class>/<file>
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # its gallery PNGs are still known as its own
    assert export.main([f"ckpt_path={digits_run}", "out=../rel", *FAST]) == 0
    assert load_index(tmp_path / "rel")[0].ntotal == 896


def test_a_train_setting_overrides_the_runs_saved_config(digits_run: Path, tmp_path: Path) -> None:
    # any key=value of train.py is gathered into run_overrides, as written, and applied to the
    # run's saved config (data.root=DIR when the data moved); here: the normalisation it records
    given = ["data.std=[0.25]", "data.root='/a b/it''s'"]
    argv = app.gather_run_overrides("export", [f"ckpt_path={digits_run}", *given])
    assert app.compose("export", argv).run_overrides == ["data.std=[0.25]", given[1]]
    out = tmp_path / "std"
    assert export.main([f"ckpt_path={digits_run}", f"out={out}", "data.std=[0.25]", *FAST]) == 0
    assert json.loads((out / "index.json").read_text())["transform"]["std"] == [0.25]
    assert json.loads((out / "index.json").read_text())["transform"]["mean"] == [0.5]
