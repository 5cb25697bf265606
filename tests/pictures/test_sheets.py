"""Retrieval pictures a person can read: captions under each tile, a legend, the query's class,
relative paths in the HTML page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from metriclab.pictures.sheets import (
    BLUE,
    GREEN,
    ORANGE,
    RED,
    Match,
    caption_size,
    captioned,
    class_name,
    decision_picture,
    legend,
    query_sheet,
    tile_captions,
    write_html,
)


def square(value: int) -> Image.Image:
    return Image.fromarray(np.full((8, 8), value, dtype=np.uint8))


def test_captions_say_rank_similarity_and_class() -> None:
    rows = tile_captions(3, [(3, 0.8841), (5, 0.5)], ["a", "b", "c", "d", "e", "f"])
    assert rows == [["query", "class d"], ["1 · 0.884", "class d"], ["2 · 0.500", "class f"]]
    assert tile_captions(-1, [(-1, 0.1)])[0] == ["query", "class unknown"]
    assert class_name(7) == "7" and class_name(1, ["x", "y"]) == "y" and class_name(-1) == "?"


def test_a_caption_is_text_under_the_tile_and_fits_its_width() -> None:
    tile = Image.new("RGB", (70, 70), BLUE)
    out = captioned(tile, ["1 · 0.884", "class with a name far too long to fit"])
    size = caption_size(70)
    assert out.size == (70, 70 + 2 + 2 * (size + 3)) and size >= 12
    below = np.asarray(out)[72:]
    assert (below < 100).all(axis=2).any()  # dark text
    assert (below[:, -1] == 255).all()  # the long line was cut, not drawn past the edge


def test_the_sheet_has_a_frame_per_tile_captions_and_a_legend() -> None:
    neighbours = [(square(50), Match("a.png", 2, 0.9)), (square(90), Match("b.png", 1, 0.4))]
    sheet = np.asarray(query_sheet(square(10), 2, neighbours, size=64, class_names=["x", "y", "z"]))
    tile = 64 + 6
    assert tuple(sheet[1, 1]) == BLUE
    assert tuple(sheet[1, tile + 12 + 4 + 1]) == GREEN and tuple(sheet[1, 2 * tile + 20 + 1]) == RED
    key = np.asarray(legend(400, 14))
    assert sheet.shape[0] >= tile + 2 * (caption_size(tile) + 3) + key.shape[0]
    bottom = sheet[-key.shape[0] :].reshape(-1, 3)
    for colour in (BLUE, GREEN, RED):  # the legend's swatches
        assert (bottom == colour).all(axis=1).any()


def test_the_page_names_the_query_class_with_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "gallery" / "cat").mkdir(parents=True)
    out = tmp_path / "retrieval"
    out.mkdir()
    query, sheet = tmp_path / "gallery" / "cat" / "q.png", out / "0000_q.png"
    matches = [
        Match(str(tmp_path / "gallery" / "cat" / "m.png"), 0, 0.93),
        Match("/x/d.png", 1, 0.2),
    ]
    page = write_html(
        out / "index.html", [(str(query), sheet, matches)], ["cat", "dog"], [0]
    ).read_text()
    assert "<h2>Query 1: <code>../gallery/cat/q.png</code> · class cat</h2>" in page
    assert "<img src='0000_q.png'" in page and str(tmp_path) not in page
    assert "<td class='same'>cat</td>" in page and "<td class='other'>dog</td>" in page
    assert "font-size: 16px" in page and "same class" in page  # readable type, a legend


def test_the_decision_banner_says_the_answer_in_its_colour() -> None:
    sheet = Image.new("RGB", (120, 50), BLUE)
    for accepted, colour in ((True, GREEN), (False, ORANGE)):
        out = decision_picture(sheet, "class 7 (0.81)", accepted)
        assert out.size == (120, 50 + 18)
        assert out.getpixel((60, 10)) == BLUE  # the sheet, untouched
        banner = np.asarray(out)[50:]
        assert tuple(banner[1, -2]) == colour
        assert (banner > 220).all(axis=-1).any()  # the white text on it
    blank = np.asarray(decision_picture(sheet, "", True))[50:]
    assert not (blank > 220).all(axis=-1).any()
