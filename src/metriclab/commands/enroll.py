"""``python scripts/enroll.py index=DIR add=FOLDER [name=CLASS]`` / ``remove=CLASS``: grow or
shrink an exported gallery without retraining.

- ``add=FOLDER``: a folder of images of one class (named ``name=``, default the folder's name), or
  a folder of class sub-folders (one class each). The images are embedded with the exported model
  and appended to ``index.faiss``; a name already in the index adds images to that class. The
  class centroids (``centroids.npy``) are updated as running means.
- ``remove=CLASS``: drops every row of that class; the ids of the later classes shift down by one.

A class name with a path separator, ``..`` or a control character is refused before anything is
read (:func:`check_class_name`). The images stay where they are (``index.json`` records their
paths). The calibrated threshold is kept as it was (it was measured on the gallery at export;
calibrate again after large changes).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from omegaconf import DictConfig

from metriclab.commands import app
from metriclab.deployment.bundle import CENTROIDS, load_centroids, write_meta
from metriclab.deployment.embedding import ImageFiles, embed, eval_transform, list_images
from metriclab.deployment.index import IndexMeta, index_folder, load_index, normalized, remove_rows
from metriclab.deployment.loading import load_embedder
from metriclab.errors import ConfigError

#: The command's primary config, ``configs/enroll.yaml`` (its settings and their defaults).
CONFIG = "enroll"


def check_class_name(name: str, source: str) -> str:
    """``name`` when it can name a class. Refused: an empty name, a path separator (``/`` or a
    backslash), ``..``, a control character (Unicode category Cc: newline, tab, NUL, ...), since
    a class name becomes a folder name (``gallery/<class>/``) and a line of the printed tables."""
    control = [c for c in name if unicodedata.category(c) == "Cc"]
    reasons = [
        (not name.strip(), "is empty"),
        ("/" in name or "\\" in name, "contains a path separator"),
        (".." in name, "contains '..'"),
        (bool(control), f"contains a control character ({''.join(control[:1])!r})"),
    ]
    for bad, reason in reasons:
        if bad:
            raise ConfigError(
                f"{source}={name!r}: a class name {reason}; nothing was enrolled: pass name=NAME "
                "with letters, digits, spaces, '-', '_' or single dots"
            )
    return name


def classes_of(folder: str, name: str | None) -> list[tuple[str, list[str]]]:
    """``[(class name, image files)]`` of ``add=folder`` (see the module docstring); every
    name checked by :func:`check_class_name` before any image is read."""
    root = Path(folder).expanduser().resolve()
    if name is not None:
        check_class_name(name, "name")
    if not root.is_dir():
        raise ConfigError(f"add={folder}: not a folder; pass a folder of a class's images")
    subs = sorted(p for p in root.iterdir() if p.is_dir())
    direct = [p for p in root.iterdir() if p.is_file()]
    if subs and not direct and name is None:
        return [(check_class_name(p.name, "add sub-folder"), list_images(p)) for p in subs]
    return [(check_class_name(name or root.name, "name"), list_images(root))]


def add_classes(folder: Path, index, meta: IndexMeta, options: dict[str, Any]) -> list[str]:
    """Embed and append the classes of ``add=``; returns a line per class."""
    classes = classes_of(options["add"], options["name"])  # refused before anything is read
    centroids = load_centroids(folder, index, meta)
    model = load_embedder(folder, meta, options["model"])
    spec, lines = meta.transform, []
    for name, files in classes:
        dataset = ImageFiles(files, None, eval_transform(spec), spec["channels"], "add")
        emb, _ = embed(model, dataset, options["batch_size"], "cpu", 0, options["progress"], name)
        new = name not in meta.class_names
        if new:
            meta.class_names.append(name)
            centroids = np.vstack([centroids, np.zeros((1, centroids.shape[1]), np.float32)])
        c = meta.class_names.index(name)
        count = meta.labels.count(c)
        x = normalized(emb)
        centroids[c] = (centroids[c] * count + x.sum(axis=0)) / (count + len(x))
        index.add(x)
        meta.paths += list(files)
        meta.labels += [c] * len(files)
        verb = "enrolled new class" if new else "added to class"
        lines.append(f"{verb} {name!r} (id {c}): {len(files)} image(s), now {count + len(x)}")
    np.save(folder / CENTROIDS, centroids.astype(np.float32))
    return lines


def remove_class(folder: Path, index, meta: IndexMeta, name: str) -> list[str]:
    """Drop every row of class ``name``; later class ids shift down by one."""
    if name not in meta.class_names:
        shown = ", ".join(meta.class_names[:10]) + (" ..." if len(meta.class_names) > 10 else "")
        raise ConfigError(f"remove={name}: no such class in the index; its classes are {shown}")
    c = meta.class_names.index(name)
    centroids = load_centroids(folder, index, meta)
    labels = np.asarray(meta.labels)
    rows = np.flatnonzero(labels == c)
    remove_rows(index, rows)
    keep = labels != c
    meta.paths = [p for p, k in zip(meta.paths, keep, strict=True) if k]
    meta.labels = [int(y) - int(y > c) for y in labels[keep]]
    meta.class_names.pop(c)
    np.save(folder / CENTROIDS, np.delete(centroids, c, axis=0).astype(np.float32))
    return [f"removed class {name!r} (id {c}): {len(rows)} image(s); ids above {c} shift by -1"]


def enroll(options: dict[str, Any]) -> IndexMeta:
    """``add=`` or ``remove=`` on the index folder; rewrites index.faiss, index.json, centroids."""
    folder = index_folder(options["index"])
    index, meta = load_index(folder)
    if not meta.is_exact:
        spec = meta.index
        raise ConfigError(
            f"index={folder} is a {spec['dims']}-d {spec['code']} {spec['index']} index; "
            "enroll.py edits exact indexes: enrol into an export with index=flat code=fp32"
        )
    if bool(options["add"]) == bool(options["remove"]):
        raise ConfigError("pass exactly one of add=FOLDER (enrol a class) or remove=CLASS")
    if options["add"]:
        lines = add_classes(folder, index, meta, options)
    else:
        lines = remove_class(folder, index, meta, str(options["remove"]))
    faiss.write_index(index, str(folder / "index.faiss"))
    write_meta(folder, meta)
    for line in lines:
        print(line)
    print(f"index: {index.ntotal} images, {len(meta.class_names)} classes in {folder}")
    if meta.classifier:
        print(f"note: the calibrated threshold ({meta.classifier['threshold']:.4f}) is kept")
    return meta


def run(cfg: DictConfig) -> IndexMeta:
    """The command on its composed config (``configs/enroll.yaml``): :func:`enroll`."""
    return enroll(app.options(cfg, CONFIG))


def main(argv: list[str]) -> int:
    """``python scripts/enroll.py ARGV`` in this process (see :func:`metriclab.commands.app.main`);
    returns the exit status (2 with one ``error:`` line for a user mistake)."""
    return app.main(CONFIG, argv, run)
