"""The classifier side of an export bundle: class centroids, decisions, the calibrated threshold.

Beside ``index.faiss`` + ``index.json`` an export holds ``centroids.npy`` (``float32 [C, D]``,
row ``c`` the mean of the normalised gallery embeddings of class ``c``;
:func:`~metriclab.recognition.classify.class_centroids`). ``index.json``'s ``classifier`` block
(written by ``scripts/export.py calibrate=DIR``) names the classifier (``method``, ``k``,
``weighted``, ``temperature``), its ``threshold``, the ``target`` it was calibrated for, what it
gave on the calibration queries and the precision-coverage ``curve``.

Decisions use the index's own search results (:func:`~metriclab.deployment.index.search`), so they
work over any FAISS index type the export writes.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from metriclab.deployment.embedding import ImageFiles, embed, eval_transform, list_images
from metriclab.deployment.index import IndexMeta, load_index, search
from metriclab.errors import ConfigError
from metriclab.recognition.calibrate import (
    calibrate,
    calibrate_best,
    checked_target,
    temperature_options,
)
from metriclab.recognition.classify import class_centroids, classify

CENTROIDS = "centroids.npy"


def write_meta(folder: Path, meta: IndexMeta) -> None:
    """Rewrite ``index.json`` from ``meta``."""
    (folder / "index.json").write_text(json.dumps(asdict(meta), indent=1), encoding="utf-8")


def save_centroids(folder: Path, embeddings: np.ndarray, meta: IndexMeta) -> Path:
    """``centroids.npy`` of the gallery ``embeddings [N, D]`` labelled as ``meta.labels``."""
    path = folder / CENTROIDS
    np.save(path, class_centroids(embeddings, np.asarray(meta.labels), len(meta.class_names)))
    return path


def load_centroids(folder: Path, index: faiss.Index, meta: IndexMeta) -> np.ndarray:
    """``[C, D]`` centroids: ``centroids.npy``, else recomputed from the index's stored vectors."""
    if (folder / CENTROIDS).is_file():
        return np.load(folder / CENTROIDS)
    try:
        stored = index.reconstruct_n(0, index.ntotal)
    except RuntimeError:
        raise ConfigError(
            f"index={folder}: no {CENTROIDS} and this index cannot return its vectors; export "
            "it again (scripts/export.py writes the centroids) or use classifier=knn"
        ) from None
    return class_centroids(stored, np.asarray(meta.labels), len(meta.class_names))


def decide(
    index: faiss.Index,
    meta: IndexMeta,
    centroids: np.ndarray | None,
    queries: np.ndarray,
    method: str,
    k: int,
    weighted: bool = True,
    temperature: float = 0.0,
) -> dict[str, np.ndarray]:
    """Search ``queries [Q, D]`` and classify them: ``label [Q]``, ``confidence [Q]`` and the
    evidence, ``similarities [Q, k]`` and ``rows [Q, k]`` (index rows, ``-1``: none)."""
    sims, rows = search(index, queries, k)
    row_labels = np.asarray(meta.labels + [-1], dtype=np.int64)[rows]  # row -1 -> label -1
    label, conf = classify(method, sims, row_labels, queries, centroids, k, weighted, temperature)
    return {"label": label, "confidence": conf, "similarities": sims, "rows": rows}


def labelled_folder(folder: str | Path, class_names: list[str]) -> tuple[list[str], np.ndarray]:
    """The images of ``folder/<class>/...``: files and class ids (``-1``: a class sub-folder not
    in ``class_names``, a stranger); images directly in ``folder`` are refused."""
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"calibrate={folder}: not a folder; pass a folder of class sub-folders")
    files = list_images(root)
    parts = [Path(f).relative_to(root).parts for f in files]
    loose = [f for f, p in zip(files, parts, strict=True) if len(p) < 2]
    if loose:
        raise ConfigError(
            f"calibrate={folder}: {len(loose)} image(s) not in a class sub-folder (e.g. "
            f"{loose[0]}); put each image in a folder named after its class"
        )
    ids = {name: i for i, name in enumerate(class_names)}
    return files, np.array([ids.get(p[0], -1) for p in parts], dtype=np.int64)


def _number(options: dict[str, Any], key: str) -> float | None:
    """``options[key]`` as a float (``None`` stays ``None``)."""
    value = options.get(key)
    try:
        return None if value is None else float(value)
    except ValueError:
        raise ConfigError(f"{key}={value}: expected a number, e.g. {key}=0.95") from None


def calibration_settings(
    options: dict[str, Any],
) -> tuple[tuple[float, ...], float | None, float | None]:
    """The temperatures to try and the target (``target_precision`` 0.95 when neither is
    given) of ``calibrate=DIR``, checked before the export writes anything."""
    centroid = options["classifier"] == "centroid"
    temps = temperature_options(options["temperature"]) if centroid else (0.0,)
    target_p, target_f = (_number(options, key) for key in ("target_precision", "target_fmr"))
    if target_p is None and target_f is None:
        target_p = 0.95
    checked_target(target_p, target_f)
    return temps, target_p, target_f


def calibrate_bundle(folder: Path, model, options: dict[str, Any]) -> IndexMeta:
    """``scripts/export.py calibrate=DIR``: classify DIR's images over the saved index, choose
    the threshold for ``target_precision`` (default 0.95) or ``target_fmr``, store it. For the
    centroid classifier with ``temperature=auto`` the confidence (cosine or a softmax) is chosen
    too: the one that answers the most calibration queries at the target
    (:func:`~metriclab.recognition.calibrate.calibrate_best`)."""
    index, meta = load_index(folder)
    files, labels = labelled_folder(options["calibrate"], meta.class_names)
    known = labels >= 0
    if not known.any():
        raise ConfigError(
            f"calibrate={options['calibrate']}: no sub-folder is named like a gallery class "
            f"(e.g. {meta.class_names[0]}); calibration needs queries of enrolled classes"
        )
    spec = meta.transform
    dataset = ImageFiles(files, labels, eval_transform(spec), spec["channels"], "calibrate")
    emb, _ = embed(model, dataset, options["batch_size"], "cpu", 0, options["progress"], "calib")
    method, k = options["classifier"], int(options["classifier_k"])
    centroids = load_centroids(folder, index, meta) if method == "centroid" else None
    options_t, target_p, target_f = calibration_settings(options)
    got = decide(index, meta, centroids, emb, method, k, temperature=options_t[0])
    correct = (got["label"] == labels) & known  # the same answer at every temperature
    if len(options_t) == 1:
        temperature = options_t[0]
        block = calibrate(got["confidence"], correct, known, target_p, target_f)
    else:  # the centroid answer needs no search: only its confidence changes with T
        confidences = {
            t: classify(method, None, None, emb, centroids, k, temperature=t)[1] for t in options_t
        }
        temperature, block = calibrate_best(confidences, correct, known, target_p, target_f)
    block["calibration"]["source"] = str(Path(options["calibrate"]).expanduser().resolve())
    meta.classifier = {"method": method, "k": k, "weighted": True, "temperature": temperature}
    meta.classifier.update(block)
    write_meta(folder, meta)
    return meta
