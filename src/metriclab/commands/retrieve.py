"""``python scripts/retrieve.py index=DIR query=PATH [k=5] [out=DIR]``: search a saved index.

``query`` is an image file or a folder of them (class sub-folders whose names match the index's
class names give the queries labels, and so does the folder a single query file lies in, so the
pictures can frame correct neighbours green and wrong ones red; otherwise the query's class reads
``unknown`` and frames are grey). For each query it prints the top-``k`` gallery images with
their cosine similarity and label, and writes into ``out`` (default ``INDEX_DIR/retrieval``) one
PNG per query (the query beside its first :data:`MAX_DRAWN` neighbours) and ``index.html``
listing them all (every neighbour).

``k`` must be at least 1; a ``k`` above the gallery size is capped to it, and both caps are said
in one line. ``out`` keeps a :data:`MANIFEST` of the files written there; the next run removes
those (and only those) before writing its own, and refuses to overwrite a file it did not write.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from metriclab.commands import app
from metriclab.deployment.embedding import (
    ImageFiles,
    embed,
    eval_transform,
    list_images,
    read_image,
)
from metriclab.deployment.index import index_folder, load_index, search
from metriclab.deployment.loading import load_embedder
from metriclab.errors import ConfigError
from metriclab.pictures.sheets import Match, class_name, query_sheet, write_html

CONFIG = "retrieve"
#: The settings (``configs/retrieve.yaml``) with their defaults.
OPTIONS: dict[str, Any] = app.defaults(CONFIG)
#: Neighbours drawn per picture (all ``k`` are printed and listed in index.html).
MAX_DRAWN = 20
#: The list of files a run wrote into ``out`` (removed, and only they, by the next run).
MANIFEST = "retrieval.json"
#: How an unreadable gallery image (named by the index) is fixed.
GALLERY_FIX = "the index names this file: restore it, or export the gallery again"


def query_labels(files: list[str], root: Path, class_names: list[str]) -> np.ndarray:
    """Each query's class id, from its first sub-folder under ``root`` when that folder is named
    like a class of the index (``root`` a single file: the folder it lies in); ``-1`` otherwise."""
    ids = {name: i for i, name in enumerate(class_names)}
    if not root.is_dir():
        return np.array([ids.get(Path(f).parent.name, -1) for f in files], dtype=np.int64)
    parts = [Path(f).relative_to(os.path.abspath(root)).parts for f in files]
    return np.array([ids.get(p[0], -1) if len(p) > 1 else -1 for p in parts], dtype=np.int64)


def previous_files(out: Path, names: list[str]) -> list[str]:
    """The files a previous run listed in ``out/MANIFEST``; refuses (before anything is
    written) when one of ``names`` is already in ``out`` but not listed there (a user's file)."""
    listed: list[str] = []
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(
                f"out={out} holds a {MANIFEST} that retrieve.py did not write; pass another out="
            ) from None
    listed = [n for n in listed if isinstance(n, str) and Path(n).name == n]  # no paths
    for name in names:
        if (out / name).exists() and name not in listed:
            raise ConfigError(
                f"out={out} holds {name}, which retrieve.py did not write; nothing was "
                "written: move it or pass another out="
            )
    return listed


def checked_k(k: int, size: int) -> int:
    """``k`` capped at the gallery ``size`` (said in one line); ``k < 1`` is refused."""
    if k < 1:
        raise ConfigError(f"k={k}: expected at least 1 neighbour per query, e.g. k=5")
    if k > size:
        print(f"note: k={k} is more than the gallery's {size} images; k capped to {size}")
    return min(k, size)


def retrieve(options: dict[str, Any]) -> list[tuple[str, list[Match]]]:
    """Search every query; print and draw the results. Returns ``(query path, matches)``."""
    if options["k"] < 1:  # before anything is read
        checked_k(options["k"], 1)
    folder = index_folder(options["index"])
    index, meta = load_index(folder)
    if not options["query"]:
        raise ConfigError("no query given; pass query=IMAGE or query=FOLDER")
    files = list_images(options["query"])
    out = Path(options["out"]) if options["out"] else folder / "retrieval"
    pngs = [f"{q:04d}_{Path(path).stem}.png" for q, path in enumerate(files)]
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={out} is a file, not a folder; pass a folder")
    old = previous_files(out, [*pngs, "index.html"]) if out.is_dir() else []
    k = checked_k(options["k"], index.ntotal)
    drawn = min(k, MAX_DRAWN)
    if drawn < k:
        print(
            f"note: each picture shows the first {drawn} of the k={k} neighbours (all {k} are "
            "printed and listed in index.html)"
        )
    labels = query_labels(files, Path(options["query"]).expanduser(), meta.class_names)
    model = load_embedder(folder, meta, options["model"])
    transform, channels = eval_transform(meta.transform), meta.transform["channels"]
    dataset = ImageFiles(files, labels, transform, channels, "query")
    emb, _ = embed(model, dataset, options["batch_size"], "cpu", 0, options["progress"], "query")
    sims, rows = search(index, emb, k)

    out.mkdir(parents=True, exist_ok=True)
    for name in old:  # the previous result, and only what it wrote
        if (out / name).is_file():
            (out / name).unlink()
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
            shown = class_name(m.label, names)
            print(f"  {rank:>3}  {m.similarity:.4f}  class {shown:>8}  {m.path}")
        neighbours = [(read_image(m.path, "RGB", GALLERY_FIX), m) for m in matches[:drawn]]
        sheet = query_sheet(
            read_image(path, "RGB"), int(labels[q]), neighbours, options["thumbnail"], names
        )
        sheet.save(out / pngs[q])
        pages.append((path, out / pngs[q], matches))
    write_html(out / "index.html", pages, meta.class_names, [int(v) for v in labels])
    written = {"written_by": "scripts/retrieve.py", "files": [*pngs, "index.html"]}
    (out / MANIFEST).write_text(json.dumps(written, indent=1), encoding="utf-8")
    print(f"wrote {len(files)} PNG(s) and {out / 'index.html'}")
    return results


def run(cfg: DictConfig) -> None:
    """The command on its composed settings (``configs/retrieve.yaml``): search the index for
    every query."""
    retrieve(app.options(cfg, CONFIG))


def main(argv: list[str]) -> int:
    """``python scripts/retrieve.py ARGV`` in this process; the exit status (2 with one ``error:``
    line for a user mistake)."""
    return app.main(CONFIG, argv, run)
