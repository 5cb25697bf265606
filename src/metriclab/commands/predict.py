"""``python scripts/predict.py index=DIR query=FILE|DIR``: which class is it, or ``unknown``?

Embeds each query with the exported model, searches the index, classifies (``classifier=knn``: a
similarity-weighted vote of the ``k`` nearest; ``centroid``: the nearest class mean; see
:mod:`metriclab.recognition.classify`) and answers ``unknown`` when the confidence is below the
threshold (``threshold=auto``: the one calibrated at export, ``none``: always a class, or a
number). Prints a table and writes into ``out`` (default ``INDEX_DIR/predictions``)
``predictions.csv``, ``predictions.json`` (with the evidence: the neighbours) and, with
``pictures=true``, one PNG per query (the retrieval picture with the decision written under it:
green = a class, orange = unknown). Queries in sub-folders named like an index class are scored.
Without a threshold (an export without ``calibrate=``, or ``threshold=none``) the summary's last
line says that no rejection is active and how to calibrate (:data:`NO_REJECTION`).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from metriclab.commands import app
from metriclab.commands.retrieve import GALLERY_FIX, query_labels
from metriclab.deployment.bundle import decide, load_centroids
from metriclab.deployment.embedding import (
    ImageFiles,
    embed,
    eval_transform,
    list_images,
    read_image,
)
from metriclab.deployment.index import IndexMeta, index_folder, load_index
from metriclab.deployment.loading import load_embedder
from metriclab.errors import ConfigError
from metriclab.pictures.sheets import Match, decision_picture, query_sheet

CONFIG = "predict"
#: The settings (``configs/predict.yaml``) with their defaults.
OPTIONS: dict[str, Any] = app.defaults(CONFIG)
UNKNOWN = "unknown"
#: The summary's last line when no threshold rejects anything (``{why}``: the reason).
NO_REJECTION = (
    "note: no rejection is active ({why}): every query was answered with a class, none is "
    "unknown; export with calibrate=DIR to calibrate a threshold, or pass threshold=VALUE"
)


def resolve(options: dict[str, Any], meta: IndexMeta) -> tuple[str, int, float, float]:
    """``(classifier, k, threshold, temperature)`` from the options and the calibrated
    ``classifier`` block."""
    calibrated = meta.classifier or {}
    method = options["classifier"]
    method = calibrated.get("method", "knn") if method == "auto" else method
    if int(options["k"]) < 0:
        raise ConfigError(f"k={options['k']}: expected 0 (the calibrated k, else 5) or more")
    k = int(options["k"]) or int(calibrated.get("k", 5))
    t = float(options["temperature"])
    t = float(calibrated.get("temperature", 0.0)) if t < 0 else t
    t = t if method == "centroid" else 0.0
    text = str(options["threshold"]).lower()
    if text in ("none", "null", "off"):
        return method, k, float("-inf"), t
    if text != "auto":
        try:
            return method, k, float(text), t
        except ValueError:
            raise ConfigError(f"threshold={text}: expected auto, none or a number") from None
    if not calibrated:  # the summary says so (NO_REJECTION)
        return method, k, float("-inf"), t
    same = calibrated["method"] == method and (
        calibrated.get("temperature", 0.0) == t if method == "centroid" else calibrated["k"] == k
    )
    if not same:
        raise ConfigError(
            f"classifier={method} k={k} temperature={t}: the threshold in index.json was "
            f"calibrated for classifier={calibrated['method']} k={calibrated['k']} temperature="
            f"{calibrated.get('temperature', 0.0)}; use those, or pass threshold=VALUE (or none)"
        )
    return method, k, float(calibrated["threshold"]), t


def stranger_marks(files: list[str], root: Path) -> list[str]:
    """``"unknown"`` for a query in a sub-folder of ``root`` (a class folder whose class is not
    in the index, when :func:`query_labels` found none), ``""`` for a loose file."""
    if not root.is_dir():
        return [""] * len(files)
    parts = [Path(f).relative_to(os.path.abspath(root)).parts for f in files]
    return [UNKNOWN if len(p) > 1 else "" for p in parts]


def predict(options: dict[str, Any]) -> list[dict[str, Any]]:
    """Classify every query; print, write and draw the answers. Returns one dict per query."""
    folder = index_folder(options["index"])
    index, meta = load_index(folder)
    if not options["query"]:
        raise ConfigError("no query given; pass query=IMAGE or query=FOLDER")
    method, k, threshold, temperature = resolve(options, meta)
    files = list_images(options["query"])
    truth = query_labels(files, Path(options["query"]).expanduser(), meta.class_names)
    strangers = stranger_marks(files, Path(options["query"]).expanduser())
    model = load_embedder(folder, meta, options["model"])
    transform, channels = eval_transform(meta.transform), meta.transform["channels"]
    dataset = ImageFiles(files, truth, transform, channels, "query")
    emb, _ = embed(model, dataset, options["batch_size"], "cpu", 0, options["progress"], "query")
    centroids = load_centroids(folder, index, meta) if method == "centroid" else None
    got = decide(index, meta, centroids, emb, method, k, temperature=temperature)

    out = Path(options["out"]) if options["out"] else folder / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    name = lambda c: meta.class_names[c] if 0 <= c < len(meta.class_names) else str(c)  # noqa: E731
    rows = []
    for q, path in enumerate(files):
        label, conf = int(got["label"][q]), float(got["confidence"][q])
        accepted = label >= 0 and conf >= threshold
        matches = [
            Match(meta.paths[r], meta.labels[r], float(s))
            for s, r in zip(got["similarities"][q], got["rows"][q], strict=True)
            if r >= 0
        ]
        rows.append(
            {
                "query": path,
                "answer": name(label) if accepted else UNKNOWN,
                "class": name(label),
                "confidence": round(conf, 6),
                "accepted": accepted,
                "truth": name(int(truth[q])) if truth[q] >= 0 else strangers[q],
                "neighbours": [
                    {"path": m.path, "class": name(m.label), "similarity": round(m.similarity, 6)}
                    for m in matches
                ],
            }
        )
        if options["pictures"]:
            images = [(read_image(m.path, "RGB", GALLERY_FIX), m) for m in matches]
            query = read_image(path, "RGB")
            sheet = query_sheet(query, int(truth[q]), images, options["thumbnail"])
            text = (
                f"{rows[-1]['answer']}  ({method} confidence {conf:.3f}, threshold {threshold:.3f})"
            )
            decision_picture(sheet, text, accepted).save(out / f"{q:04d}_{Path(path).stem}.png")
    note = ""
    if threshold == float("-inf"):
        off = str(options["threshold"]).lower() in ("none", "null", "off")
        why = "threshold=none" if off else "the index has no calibrated threshold"
        note = NO_REJECTION.format(why=why)
    _write_and_print(rows, out, method, k, threshold, note)
    return rows


def _write_and_print(
    rows: list[dict], out: Path, method: str, k: int, threshold: float, note: str = ""
) -> None:
    fields = ["query", "answer", "class", "confidence", "accepted", "truth"]
    with open(out / "predictions.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    header = {"classifier": method, "k": k, "threshold": threshold, "rejection": not note}
    (out / "predictions.json").write_text(
        json.dumps({**header, "predictions": rows}, indent=1), encoding="utf-8"
    )
    width = min(60, max(len(r["query"]) for r in rows))
    print(f"{'query':<{width}}  {'answer':<16} {'confidence':>10}  truth")
    for r in rows:
        print(
            f"{r['query'][-width:]:<{width}}  {r['answer']:<16} {r['confidence']:>10.4f}  "
            f"{r['truth']}"
        )
    scored = [r for r in rows if r["truth"]]
    if scored:  # queries in class sub-folders: a folder not in the index holds strangers
        right = np.mean([r["answer"] == r["truth"] for r in scored])
        answered = [r for r in scored if r["accepted"]]
        precision = np.mean([r["answer"] == r["truth"] for r in answered]) if answered else 1.0
        print(
            f"labelled queries: {len(scored)} ({sum(r['truth'] == UNKNOWN for r in scored)} of "
            f"classes not in the index); open-set accuracy {right:.4f}; precision of the "
            f"{len(answered)} answered {precision:.4f}, coverage {len(answered) / len(scored):.4f}"
        )
    print(
        f"{sum(r['accepted'] for r in rows)} of {len(rows)} answered with a class "
        f"({method}, k={k}, threshold {threshold:.4f}); wrote {out / 'predictions.csv'}"
    )
    if note:
        print(note)


def run(cfg: DictConfig) -> None:
    """The command on its composed settings (``configs/predict.yaml``): classify every query."""
    predict(app.options(cfg, CONFIG))


def main(argv: list[str]) -> int:
    """``python scripts/predict.py ARGV`` in this process; the exit status (2 with one ``error:``
    line for a user mistake)."""
    return app.main(CONFIG, argv, run)
