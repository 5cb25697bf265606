"""``python scripts/retrieve.py index=DIR query=PATH [k=5] [out=DIR]``: search a saved index.

``query`` is an image file or a folder of them (class sub-folders whose names match the index's
class names give the queries labels, so the pictures can frame correct neighbours green and wrong
ones red; otherwise frames are grey). For each query it prints the top-``k`` gallery images with
their cosine similarity and label, and writes into ``out`` (default ``INDEX_DIR/retrieval``) one
PNG per query (the query beside its neighbours) and ``index.html`` listing them all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from metriclab.data.images import load_image
from metriclab.errors import ConfigError
from metriclab.render import Match, query_sheet, write_html
from metriclab.serving.args import run_command
from metriclab.serving.embedding import ImageFiles, embed, eval_transform, list_images
from metriclab.serving.export import load_torchscript, onnx_embedder
from metriclab.serving.index import IndexMeta, load_index, search

OPTIONS: dict[str, Any] = {
    "index": None,  # the folder written by scripts/export.py (index.faiss + index.json)
    "query": None,  # an image file or a folder of images
    "k": 5,  # neighbours per query
    "out": None,  # where the PNGs and index.html go (default INDEX_DIR/retrieval)
    "model": "torchscript",  # torchscript or onnx: which exported embedder embeds the queries
    "thumbnail": 128,  # side of each picture in the PNGs
    "batch_size": 64,
    "progress": True,
}


def load_embedder(folder: Path, meta: IndexMeta, kind: str):
    """The exported model ``kind`` of an index folder as ``images -> embeddings``."""
    if kind not in meta.models:
        raise ConfigError(
            f"model={kind}: the index has only {', '.join(meta.models)}; choose one of those"
        )
    path = folder / meta.models[kind]
    return onnx_embedder(path) if kind == "onnx" else load_torchscript(path)


def query_labels(files: list[str], root: Path, class_names: list[str]) -> np.ndarray:
    """Each query's class id, from its first sub-folder under ``root`` when that folder is named
    like a class of the index; ``-1`` otherwise."""
    ids = {name: i for i, name in enumerate(class_names)}
    if not root.is_dir():
        return np.full(len(files), -1, dtype=np.int64)
    parts = [Path(f).relative_to(os.path.abspath(root)).parts for f in files]
    return np.array([ids.get(p[0], -1) if len(p) > 1 else -1 for p in parts], dtype=np.int64)


def retrieve(options: dict[str, Any]) -> list[tuple[str, list[Match]]]:
    """Search every query; print and draw the results. Returns ``(query path, matches)``."""
    folder = Path(options["index"] or "").expanduser()
    index, meta = load_index(folder)
    if not options["query"]:
        raise ConfigError("no query given; pass query=IMAGE or query=FOLDER")
    files = list_images(options["query"])
    labels = query_labels(files, Path(options["query"]).expanduser(), meta.class_names)
    model = load_embedder(folder, meta, options["model"])
    dataset = ImageFiles(files, labels, eval_transform(meta.transform), meta.transform["channels"])
    emb, _ = embed(model, dataset, options["batch_size"], "cpu", 0, options["progress"], "query")
    sims, rows = search(index, emb, options["k"])

    out = Path(options["out"]) if options["out"] else folder / "retrieval"
    out.mkdir(parents=True, exist_ok=True)
    results, pages = [], []
    for q, path in enumerate(files):
        matches = [
            Match(meta.paths[r], meta.labels[r], float(s))
            for s, r in zip(sims[q], rows[q], strict=True)
        ]
        results.append((path, matches))
        names = meta.class_names
        print(f"query {path}" + (f" (class {names[labels[q]]})" if labels[q] >= 0 else ""))
        for rank, m in enumerate(matches, 1):
            print(f"  {rank:>3}  {m.similarity:.4f}  class {names[m.label]:>8}  {m.path}")
        neighbours = [(load_image(m.path, mode="RGB"), m) for m in matches]
        sheet = query_sheet(
            load_image(path, mode="RGB"), int(labels[q]), neighbours, options["thumbnail"], names
        )
        png = out / f"{q:04d}_{Path(path).stem}.png"
        sheet.save(png)
        pages.append((path, png, matches))
    write_html(out / "index.html", pages, meta.class_names, [int(v) for v in labels])
    print(f"wrote {len(files)} PNG(s) and {out / 'index.html'}")
    return results


def main(argv: list[str]) -> int:
    """The command; returns the exit status (2 with one ``error:`` line for a user mistake)."""
    return run_command(lambda options, _: retrieve(options), argv, OPTIONS)
