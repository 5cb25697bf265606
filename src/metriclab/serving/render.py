"""Pictures of retrieval results: framed thumbnails, a query beside its neighbours, an HTML page.

Used by ``scripts/retrieve.py`` (one PNG per query, plus ``index.html``) and by the TensorBoard
dashboards (a grid of sample queries). Correct neighbours (same label as the query) are framed
green, wrong ones red, and the query (or a neighbour whose correctness is unknown) grey.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

GREEN, RED, GREY, BLUE = (40, 170, 60), (210, 40, 40), (150, 150, 150), (60, 110, 220)


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
) -> Image.Image:
    """The query (blue frame) beside its neighbours, each captioned with rank and similarity."""
    caption = 16
    tiles = [framed(query, size, BLUE)]
    tiles += [framed(img, size, hit_color(query_label, m.label)) for img, m in neighbours]
    row = Image.fromarray(grid([tiles]))
    sheet = Image.new("RGB", (row.width, row.height + caption), (255, 255, 255))
    sheet.paste(row, (0, 0))
    draw = ImageDraw.Draw(sheet)
    step = tiles[0].width + 4
    draw.text((2, row.height + 2), "query", fill=(0, 0, 0))
    for i, (_, match) in enumerate(neighbours):
        x = 12 + (i + 1) * step
        draw.text((x + 2, row.height + 2), f"#{i + 1} {match.similarity:.3f}", fill=(0, 0, 0))
    return sheet


def write_html(
    path: Path, entries: Sequence[tuple[str, Path, Sequence[Match]]], class_names: Sequence[str]
) -> Path:
    """An HTML page: per query its sheet (PNG) and a table of rank, similarity, label and path.

    ``entries``: ``(query path, sheet PNG path, matches)``; links are relative to the page.
    """

    def name(label: int) -> str:
        ok = 0 <= label < len(class_names)
        return html.escape(class_names[label] if ok else str(label) if label >= 0 else "-")

    parts = [
        "<!doctype html><meta charset='utf-8'><title>metriclab retrieval</title>",
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>",
    ]
    for query, sheet, matches in entries:
        rel = html.escape(os.path.relpath(sheet, path.parent))
        parts.append(f"<h3>{html.escape(query)}</h3><img src='{rel}'>")
        parts.append("<table><tr><th>rank</th><th>similarity</th><th>label</th><th>path</th></tr>")
        for i, m in enumerate(matches):
            parts.append(
                f"<tr><td>{i + 1}</td><td>{m.similarity:.4f}</td><td>{name(m.label)}</td>"
                f"<td>{html.escape(m.path)}</td></tr>"
            )
        parts.append("</table>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
