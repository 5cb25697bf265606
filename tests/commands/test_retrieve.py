"""``scripts/retrieve.py`` through its command line: ``k`` refused below 1 and capped (with a
line) above the gallery, a bounded picture, a single query file's class from its folder, a
query-image error with the right fix, and an ``out=`` folder holding only the latest result
(never a user's file removed or overwritten)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli import error_lines, last_line, run_script
from PIL import Image

from metriclab.commands import export
from metriclab.commands import retrieve as search
from metriclab.pictures.sheets import GREEN, GREY, RED

OPTS = ["progress=false", "thumbnail=16"]
TILE = 16 + 2 * 3  # a framed thumbnail's side (thumbnail=16, a 3-pixel frame)


@pytest.fixture(scope="module")
def exported(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("retrieve") / "export"
    options = ["onnx=false", "progress=false", f"out={out}"]
    assert export.main([f"ckpt_path={digits_run}", *options]) == 0  # digits 5-9, 896 PNGs
    return out


def test_k_below_one_is_refused(exported: Path, tmp_path: Path) -> None:
    query = next((exported / "gallery" / "7").glob("*.png"))
    out = tmp_path / "r"
    result = run_script("retrieve", f"index={exported}", f"query={query}", "k=0", f"out={out}")
    assert result.returncode == 2 and error_lines(result) == [last_line(result.stderr)]
    want = "error: k=0: expected at least 1 neighbour per query, e.g. k=5"
    assert last_line(result.stderr) == want
    assert not out.exists()


@pytest.mark.slow  # 896 neighbours printed, 20 drawn: about 12 s of CPU in a subprocess
def test_a_huge_k_is_capped_and_said_and_a_single_file_gets_its_folders_class(
    exported: Path, tmp_path: Path
) -> None:
    query = sorted((exported / "gallery" / "7").glob("*.png"))[0]
    out = tmp_path / "r"
    args = [f"index={exported}", f"query={query}", "k=100000", f"out={out}", *OPTS]
    result = run_script("retrieve", *args)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "note: k=100000 is more than the gallery's 896 images; k capped to 896" in lines
    assert (
        "note: each picture shows the first 20 of the k=896 neighbours (all 896 are printed "
        "and listed in index.html)"
    ) in lines
    assert f"query {query} (class 7)" in lines  # the folder it lies in names a gallery class
    assert sum(line.startswith("  ") for line in lines) == 896  # every neighbour printed
    [png] = out.glob("*.png")
    sheet = Image.open(png)
    assert sheet.width < 21 * 40  # 21 tiles of 16 + frame + gap, not 897
    frames = np.asarray(sheet.convert("RGB"))[:TILE]  # the row of tiles, not the legend
    assert (frames == GREEN).all(axis=2).any()  # the query found itself: a same-class frame
    assert last_line(result.stdout) == f"wrote 1 PNG(s) and {out / 'index.html'}"
    assert json.loads((out / search.MANIFEST).read_text())["files"] == [png.name, "index.html"]


def test_a_loose_query_file_is_of_unknown_class_never_wrong(exported: Path, tmp_path) -> None:
    loose = tmp_path / "photo.png"
    Image.open(sorted((exported / "gallery" / "6").glob("*.png"))[0]).save(loose)
    out = tmp_path / "r"
    options = {**search.OPTIONS, "index": str(exported), "query": str(loose), "out": str(out)}
    search.retrieve({**options, "progress": False, "thumbnail": 16})
    frames = np.asarray(Image.open(next(out.glob("*.png"))).convert("RGB"))[:TILE]
    assert not (frames == RED).all(axis=2).any() and not (frames == GREEN).all(axis=2).any()
    assert (frames == GREY).all(axis=2).any()
    assert "photo.png</code> · class unknown</h2>" in (out / "index.html").read_text()


def test_out_holds_only_the_latest_result_and_keeps_user_files(
    exported: Path, tmp_path: Path, capsys
) -> None:
    gallery = exported / "gallery"
    out = tmp_path / "r"
    out.mkdir()
    (out / "mine.png").write_bytes(b"a user's picture")
    options = {**search.OPTIONS, "index": str(exported), "out": str(out), "progress": False}
    search.retrieve({**options, "query": str(gallery / "5"), "thumbnail": 16})
    first = sorted(p.name for p in out.glob("*.png"))
    assert len(first) == len(list((gallery / "5").glob("*.png"))) + 1
    search.retrieve({**options, "query": str(sorted((gallery / "9").glob("*.png"))[0])})
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        ["mine.png", f"0000_{sorted((gallery / '9').glob('*.png'))[0].stem}.png"]
    )
    assert (out / "mine.png").read_bytes() == b"a user's picture"
    # a user's file where a picture would go: refused before anything is written or removed
    query = sorted((gallery / "8").glob("*.png"))[0]
    (out / f"0000_{query.stem}.png").write_bytes(b"mine too")
    capsys.readouterr()
    assert search.main([f"index={exported}", f"query={query}", f"out={out}"]) == 2
    err = capsys.readouterr().err
    assert f"holds 0000_{query.stem}.png, which retrieve.py did not write" in err
    assert (out / f"0000_{query.stem}.png").read_bytes() == b"mine too"
    assert len(list(out.glob("*.png"))) == 3


def test_an_unreadable_query_gets_the_query_fix(exported: Path, tmp_path: Path) -> None:
    bad = tmp_path / "q" / "broken.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"")
    result = run_script("retrieve", f"index={exported}", f"query={bad.parent}", "progress=false")
    assert result.returncode == 2 and error_lines(result) == [last_line(result.stderr)]
    line = last_line(result.stderr)
    assert line.startswith(f"error: cannot read image {bad}: ")
    assert line.endswith("; replace or delete it, or leave it out of query=")
    assert "skip_unreadable" not in line  # a training setting: no use for a query
