"""``scripts/enroll.py`` refuses a class name that is not a plain name (a path separator, ``..``,
a control character), in one line, before anything is read or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli import error_lines, last_line, run_script

from metriclab.commands import enroll, export


@pytest.fixture(scope="module")
def small(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An export of digits 5-9 and a folder of three of its 9s to enrol."""
    top = tmp_path_factory.mktemp("enroll_names")
    options = ["onnx=false", "progress=false", f"out={top / 'export'}"]
    assert export.main([f"ckpt_path={digits_run}", *options]) == 0
    new = top / "new"
    new.mkdir()
    for f in sorted((top / "export" / "gallery" / "9").glob("*.png"))[:3]:
        (new / f.name).write_bytes(f.read_bytes())
    return {"index": top / "export", "add": new}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_a_path_as_class_name_is_refused(small: dict[str, Path]) -> None:
    before = _snapshot(small["index"])
    result = run_script(
        "enroll", f"index={small['index']}", f"add={small['add']}", "name=../evil", "progress=false"
    )
    assert result.returncode == 2 and error_lines(result) == [last_line(result.stderr)]
    assert last_line(result.stderr) == (
        "error: name='../evil': a class name contains a path separator; nothing was enrolled: "
        "pass name=NAME with letters, digits, spaces, '-', '_' or single dots"
    )
    assert _snapshot(small["index"]) == before
    assert not (small["index"].parent / "evil").exists()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a\\b", "contains a path separator"),
        ("..", "contains '..'"),
        ("x..y", "contains '..'"),
        ("tab\there", "contains a control character ('\\t')"),
        ("   ", "is empty"),
    ],
)
def test_other_bad_names(small: dict[str, Path], capsys, name: str, reason: str) -> None:
    before = _snapshot(small["index"])
    argv = [f"index={small['index']}", f"add={small['add']}", f"name={name}", "progress=false"]
    assert enroll.main(argv) == 2
    shown = name.strip()  # Hydra trims the blanks around a value
    assert f"error: name={shown!r}: a class name {reason}; nothing was enrolled" in (
        capsys.readouterr().err
    )
    assert _snapshot(small["index"]) == before


def test_a_sub_folder_with_a_control_character_is_refused(
    small: dict[str, Path], tmp_path: Path, capsys
) -> None:
    odd = tmp_path / "classes" / "bad\nname"
    odd.mkdir(parents=True)
    (odd / "a.png").write_bytes(next(small["add"].glob("*.png")).read_bytes())
    before = _snapshot(small["index"])
    assert enroll.main([f"index={small['index']}", f"add={odd.parent}", "progress=false"]) == 2
    assert "add sub-folder='bad\\nname': a class name contains a control character" in (
        capsys.readouterr().err
    )
    assert _snapshot(small["index"]) == before


def test_a_plain_name_with_a_dot_is_enrolled(small: dict[str, Path], tmp_path: Path) -> None:
    index = tmp_path / "copy"
    index.mkdir()
    for name, data in _snapshot(small["index"]).items():
        (index / name).write_bytes(data)
    argv = [f"index={index}", f"add={small['add']}", "name=nine v1.2", "progress=false"]
    assert enroll.main(argv) == 0
    assert "nine v1.2" in (index / "index.json").read_text()


def test_help_and_an_unknown_setting(tmp_path: Path) -> None:
    shown = run_script("enroll", "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for line in ("index: null", "add: null", "name: null", "remove: null", "model: torchscript"):
        assert line in shown.stdout.splitlines(), line
    typo = run_script("enroll", "index=DIR", "nmae=cat", cwd=tmp_path)
    assert typo.returncode == 2 and error_lines(typo) == [last_line(typo.stderr)]
    assert last_line(typo.stderr) == (
        "error: nmae: no such setting of enroll.py; the settings are index, add, name, remove, "
        "model, batch_size, progress; did you mean name?"
    )
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra
