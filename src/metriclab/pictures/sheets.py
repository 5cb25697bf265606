"""Pictures of retrieval results: framed thumbnails, a query beside its neighbours, an HTML page.

Used by ``scripts/retrieve.py`` (one PNG per query, plus ``index.html``), ``scripts/predict.py``
(the same sheet with the answer in a banner under it: :func:`decision_picture`) and by the
TensorBoard dashboards (a grid of sample queries). Correct neighbours (same label as the query)
are framed green, wrong ones red, a neighbour whose correctness is unknown grey, the query blue.
Under each tile a caption says ``rank · similarity`` and the class (the query: ``query`` and its
class), and a legend under the sheet says what the colours mean, so colour is never the only cue.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

GREEN, RED, GREY, BLUE = (40, 170, 60), (210, 40, 40), (150, 150, 150), (60, 110, 220)
ORANGE = (230, 140, 20)  # predict.py's banner: the answer is unknown
#: What each frame colour means (the legend under a sheet).
LEGEND = ((BLUE, "query"), (GREEN, "same class"), (RED, "other class"), (GREY, "class unknown"))


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` pixels (its fixed 11 px bitmap font on Pillow < 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: no size
        return ImageFont.load_default()


def caption_size(tile_side: int) -> int:
    """The caption font size for tiles of ``tile_side`` pixels: 1/8 of it, at least 12 px."""
    return max(12, tile_side // 8)


def captioned(tile: Image.Image, lines: Sequence[str], size: int | None = None) -> Image.Image:
    """``tile`` with ``lines`` of black text centred under it on white (``size``-pixel font)."""
    size = size or caption_size(tile.width)
    face = font(size)
    line_h = size + 3
    out = Image.new("RGB", (tile.width, tile.height + 2 + line_h * len(lines)), (255, 255, 255))
    out.paste(tile, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(lines):
        while len(text) > 1 and draw.textlength(text, font=face) > tile.width:
            text = text[:-2] + "…"  # cut what does not fit under the tile
        x = (tile.width - draw.textlength(text, font=face)) / 2
        draw.text((x, tile.height + 2 + i * line_h), text, fill=(0, 0, 0), font=face)
    return out


def legend(width: int, size: int = 14, entries=LEGEND) -> Image.Image:
    """One row of coloured squares and their meaning, ``width`` pixels wide (wider if needed)."""
    face = font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widths = [size + 6 + probe.textlength(text, font=face) + 16 for _, text in entries]
    out = Image.new("RGB", (max(width, int(sum(widths)) + 8), size + 10), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    x = 4.0
    for (color, text), w in zip(entries, widths, strict=True):
        draw.rectangle([x, 5, x + size, 5 + size], outline=color, width=3)
        draw.text((x + size + 6, 4), text, fill=(0, 0, 0), font=face)
        x += w
    return out


def class_name(label: int | None, class_names: Sequence[str] | None = None) -> str:
    """``class_names[label]``, else ``str(label)``; ``"?"`` for an unknown label (``-1``)."""
    if label is None or label < 0:
        return "?"
    return class_names[label] if class_names and label < len(class_names) else str(label)


def tile_captions(
    query_label: int | None,
    neighbours: Sequence[tuple[int | None, float]],
    class_names: Sequence[str] | None = None,
    digits: int = 3,
) -> list[list[str]]:
    """The caption lines of a query row: ``["query", "class 7"]``, then per neighbour
    ``["1 · 0.884", "class 7"]`` (rank from 1, cosine similarity, class). A query of unknown
    class (``-1``) reads ``class unknown``: its neighbours are framed grey, never red."""
    known = query_label is not None and query_label >= 0  # an unlabelled query says so
    rows = [["query", f"class {class_name(query_label, class_names) if known else 'unknown'}"]]
    for rank, (label, similarity) in enumerate(neighbours, 1):
        rows.append(
            [f"{rank} · {similarity:.{digits}f}", f"class {class_name(label, class_names)}"]
        )
    return rows


def hit_color(query_label: int | None, label: int | None) -> tuple[int, int, int]:
    """Green when both labels are known and equal, red when known and different, else grey."""
    if query_label is None or label is None or query_label < 0 or label < 0:
        return GREY
    return GREEN if query_label == label else RED


def thumbnail(image: Image.Image, size: int) -> Image.Image:
    """``image`` fitted (aspect kept, padded black) into a ``size x size`` RGB square.

    Small images (8x8 digits) are enlarged with nearest-neighbour sampling so pixels stay sharp.
    """
    image = image.convert("RGB")
    method = Image.Resampling.NEAREST if max(image.size) < size else Image.Resampling.BILINEAR
    return ImageOps.pad(image, (size, size), method=method, color=(0, 0, 0))


def framed(image: Image.Image, size: int, color: tuple[int, int, int], border: int = 3):
    """A ``(size + 2 * border)``-pixel square: the thumbnail inside a coloured frame."""
    out = Image.new("RGB", (size + 2 * border, size + 2 * border), color)
    out.paste(thumbnail(image, size), (border, border))
    return out


def grid(rows: Sequence[Sequence[Image.Image]], gap: int = 4, query_gap: int = 12) -> np.ndarray:
    """Tiles of equal size laid out in rows (a wider gap after each row's first tile, the query):
    ``uint8 [H, W, 3]`` on white."""
    tile_w, tile_h = rows[0][0].size
    cols = max(len(r) for r in rows)
    width = cols * tile_w + (cols - 1) * gap + query_gap
    height = len(rows) * tile_h + (len(rows) - 1) * gap
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            x = c * (tile_w + gap) + (query_gap if c > 0 else 0)
            canvas.paste(tile, (x, r * (tile_h + gap)))
    return np.asarray(canvas)


@dataclass
class Match:
    """One neighbour of a query: its image file, label (-1: unknown) and cosine similarity."""

    path: str
    label: int
    similarity: float


def query_sheet(
    query: Image.Image,
    query_label: int | None,
    neighbours: Sequence[tuple[Image.Image, Match]],
    size: int = 128,
    class_names: Sequence[str] | None = None,
) -> Image.Image:
    """The query (blue frame) beside its neighbours, each captioned ``rank · similarity`` and its
    class, with the colour legend underneath."""
    captions = tile_captions(
        query_label, [(m.label, m.similarity) for _, m in neighbours], class_names
    )
    tiles = [framed(query, size, BLUE)]
    tiles += [framed(img, size, hit_color(query_label, m.label)) for img, m in neighbours]
    text = caption_size(tiles[0].width)
    row = Image.fromarray(
        grid([[captioned(t, c, text) for t, c in zip(tiles, captions, strict=True)]])
    )
    key = legend(row.width, text)
    sheet = Image.new("RGB", (max(row.width, key.width), row.height + key.height + 4), "white")
    sheet.paste(row, (0, 0))
    sheet.paste(key, (0, row.height + 4))
    return sheet


def decision_picture(sheet: Image.Image, text: str, accepted: bool) -> Image.Image:
    """``sheet`` with an 18 px banner under it: ``text`` in white on green (a class) or orange
    (unknown), as ``scripts/predict.py`` writes each query's answer."""
    out = Image.new("RGB", (sheet.width, sheet.height + 18), (255, 255, 255))
    out.paste(sheet, (0, 0))
    draw = ImageDraw.Draw(out)
    draw.rectangle(
        [0, sheet.height, sheet.width, sheet.height + 18],
        fill=GREEN if accepted else ORANGE,
    )
    draw.text((4, sheet.height + 3), text, fill=(255, 255, 255))
    return out


PAGE_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 16px; margin: 1.5em; color: #111; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
td, th { padding: 3px 10px; text-align: left; } th { border-bottom: 1px solid #999; }
td.same { color: #1d7a30; } td.other { color: #b02020; }
.key span { display: inline-block; border: 3px solid; padding: 0 6px; margin-right: 8px; }
code { font-size: 0.95em; }
"""


def write_html(
    path: Path,
    entries: Sequence[tuple[str, Path, Sequence[Match]]],
    class_names: Sequence[str],
    query_labels: Sequence[int] | None = None,
) -> Path:
    """An HTML page: per query its sheet (PNG) and a table of rank, similarity, class and path.

    ``entries``: ``(query path, sheet PNG path, matches)``; ``query_labels``: each query's class
    id (``-1``: unknown). Every link and shown path is relative to the page's folder.
    """
    here = path.parent

    def rel(p: str | Path) -> str:
        return html.escape(os.path.relpath(Path(p).resolve(), here.resolve()))

    swatch = "".join(
        f"<span style='border-color: rgb{c}'>{html.escape(t)}</span>" for c, t in LEGEND
    )
    parts = [
        "<!doctype html><meta charset='utf-8'><title>metriclab retrieval</title>",
        f"<style>{PAGE_STYLE}</style>",
        f"<h1>Retrieval: {len(entries)} quer{'y' if len(entries) == 1 else 'ies'}</h1>",
        f"<p class='key'>Frames: {swatch}</p>",
    ]
    for q, (query, sheet, matches) in enumerate(entries):
        label = int(query_labels[q]) if query_labels is not None else -1
        known = label >= 0
        parts.append(
            f"<h2>Query {q + 1}: <code>{rel(query)}</code> · class "
            f"{html.escape(class_name(label, class_names) if known else 'unknown')}</h2>"
        )
        parts.append(f"<img src='{rel(sheet)}' alt='query {q + 1} and its neighbours'>")
        parts.append("<table><tr><th>rank</th><th>similarity</th><th>class</th><th>path</th></tr>")
        for i, m in enumerate(matches):
            css = "" if not known or m.label < 0 else "same" if m.label == label else "other"
            parts.append(
                f"<tr><td>{i + 1}</td><td>{m.similarity:.4f}</td>"
                f"<td class='{css}'>{html.escape(class_name(m.label, class_names))}</td>"
                f"<td><code>{rel(m.path)}</code></td></tr>"
            )
        parts.append("</table>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
