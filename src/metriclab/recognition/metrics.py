"""The recognition protocol of ``scripts/eval.py openset=true``: arrays in, floats out.

On one labelled split (``embeddings [N, D]``, ``labels [N]``; each class's items in dataset
order, e.g. Omniglot's drawers 01..20):

1. **classes**: a seeded permutation puts ``known_fraction`` of the classes in the gallery
   ("known"); the others are never enrolled ("unknown").
2. **closed set**, per ``n`` in ``shots``: the first ``n`` items of each known class are enrolled,
   the remaining items of the known classes query (``n = "all"``: leave-one-out, every known item
   queries all the others); accuracy of the k-NN vote and of the nearest centroid.
3. **open set**: the first ``enroll`` items of each known class are enrolled; items
   ``enroll + 1 ...`` of *every* class query. AUROC of the confidence, known vs unknown queries.
   The queries are split in two halves (:func:`~metriclab.recognition.calibrate.split_halves`: a
   random half of each class's queries; ``strangers="class"``: unknown classes whole, half of
   them each side); the threshold is calibrated on the first half for ``target_precision`` and
   precision, coverage and open-set accuracy are measured on the second.
4. **verification** on pairs of the whole split: every same-class pair (at most ``max_pairs``)
   against ``max_pairs`` random different-class pairs, cosine scores: ``TAR@FAR`` and
   ``FNMR@FMR = 1 - TAR@FAR`` at each ``far``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from metriclab.recognition.calibrate import (
    calibrate,
    calibrate_best,
    split_halves,
    temperature_options,
)
from metriclab.recognition.classify import class_centroids, knn_vote, nearest_centroid
from metriclab.recognition.openset import auroc, decision_metrics, tar_at_far
from metriclab.search.inputs import unit_rows
from metriclab.search.knn import nearest_neighbors


def predict_both(
    gallery: np.ndarray,
    g_labels: np.ndarray,
    query: np.ndarray,
    k: int,
    exclude_self: bool = False,
    temperature: float = 0.0,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"knn": (labels, confidence), "centroid": (...)}`` of ``query`` over the gallery."""
    g, q = unit_rows(gallery), unit_rows(query)
    rows = np.concatenate(
        [
            i
            for _, i in nearest_neighbors(
                torch.from_numpy(q), torch.from_numpy(g), k, exclude_self=exclude_self
            )
        ]
    )
    sims = np.einsum("qd,qkd->qk", q, g[rows])
    centroids = class_centroids(g, g_labels, int(g_labels.max()) + 1)
    if exclude_self:  # leave-one-out: each query's own contribution leaves its class mean
        counts = np.bincount(g_labels, minlength=len(centroids)).astype(np.float32)
        return {
            "knn": knn_vote(sims, g_labels[rows], k),
            "centroid": _loo_centroid(q, g_labels, centroids, counts, temperature),
        }
    centroid = centroid_predictions(g, g_labels, q, (temperature,))[temperature]
    return {"knn": knn_vote(sims, g_labels[rows], k), "centroid": centroid}


def centroid_predictions(
    g: np.ndarray, g_labels: np.ndarray, q: np.ndarray, temperatures: Sequence[float]
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """:func:`nearest_centroid` of the unit rows ``q`` over the class means of the unit rows
    ``g``, at each temperature (the centroids built once)."""
    centroids = class_centroids(g, g_labels, int(g_labels.max()) + 1)
    return {t: nearest_centroid(q, centroids, t) for t in temperatures}


def _loo_centroid(q, labels, centroids, counts, temperature) -> tuple[np.ndarray, np.ndarray]:
    out_l, out_c = np.empty(len(q), dtype=np.int64), np.empty(len(q))
    for i in range(len(q)):  # one class mean changes per query; C x D each: fine for eval sizes
        mu = centroids.copy()
        c, n = labels[i], counts[labels[i]]
        mu[c] = (mu[c] * n - q[i]) / max(n - 1, 1) if n > 1 else 0.0
        lab, conf = nearest_centroid(q[i : i + 1], mu, temperature)
        out_l[i], out_c[i] = lab[0], conf[0]
    return out_l, out_c


def _first_n(labels: np.ndarray, n: int) -> np.ndarray:
    """``[N]`` bool: the first ``n`` items of each class (in array order)."""
    rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        rank[rows] = np.arange(len(rows))
    return rank < n


def recognition_metrics(
    embeddings: np.ndarray,
    labels: np.ndarray,
    shots: Sequence[int | str] = (1, 5, "all"),
    enroll: int = 5,
    known_fraction: float = 0.5,
    k: int = 5,
    method: str = "knn",
    temperature: float | str = 0.0,
    target_precision: float = 0.95,
    strangers: str = "item",
    fars: Sequence[float] = (1e-3, 1e-4),
    max_pairs: int = 1_000_000,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The protocol of the module docstring: ``(metrics, calibration)``; ``calibration`` is
    :func:`~metriclab.recognition.calibrate.calibrate`'s block for the first half (for the plot)."""
    x, y = unit_rows(embeddings), np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(y))
    known_classes = classes[: max(1, int(round(known_fraction * len(classes))))]
    known = np.isin(y, known_classes)
    out: dict[str, float] = {}
    for n in shots:
        if n == "all":
            rows = np.flatnonzero(known)
            got = predict_both(x[rows], y[rows], x[rows], k, exclude_self=True)
            truth = y[rows]
        else:
            gal = known & _first_n(y, int(n))
            qry = known & ~_first_n(y, int(n))
            got = predict_both(x[gal], y[gal], x[qry], k)
            truth = y[qry]
        for name, (pred, _) in got.items():
            out[f"closed/{name}_acc@{n}"] = float(np.mean(pred == truth))

    gal, qry = known & _first_n(y, enroll), ~_first_n(y, enroll)
    temps = temperature_options(temperature)
    auto = method == "centroid" and len(temps) > 1  # with knn, the centroid AUROC is the cosine's
    got = predict_both(x[gal], y[gal], x[qry], k, temperature=temps[0])
    q_known, q_labels = known[qry], y[qry]
    pred, conf = got[method]
    correct = (pred == q_labels) & q_known
    first, second = split_halves(q_labels, q_known, seed, strangers)
    if auto:  # the centroid confidence (cosine or a softmax) with most calibration answers
        g, q = unit_rows(x[gal]), unit_rows(x[qry])  # as predict_both normalises them
        confs = {t: c for t, (_, c) in centroid_predictions(g, y[gal], q, temps).items()}
        halves = {t: c[first] for t, c in confs.items()}
        chosen, block = calibrate_best(halves, correct[first], q_known[first], target_precision)
        got["centroid"] = (pred, confs[chosen])
        conf = confs[chosen]
        out["openset/temperature"] = chosen
    else:
        block = calibrate(conf[first], correct[first], q_known[first], target_precision)
    for name, (_, scores) in got.items():
        out[f"openset/{name}_auroc"] = auroc(scores[q_known], scores[~q_known])
    held = decision_metrics(conf[second], correct[second], q_known[second], block["threshold"])
    out["openset/threshold"] = block["threshold"]
    out["openset/calib_precision"] = block["calibration"]["precision"]
    out.update({f"openset/{key}": value for key, value in held.items()})

    pairs = [np.triu_indices(int((y == c).sum()), 1) for c in classes]
    members = [np.flatnonzero(y == c) for c in classes]
    i = np.concatenate([m[p] for m, (p, _) in zip(members, pairs, strict=True)])
    j = np.concatenate([m[q] for m, (_, q) in zip(members, pairs, strict=True)])
    if len(i) > max_pairs:
        pick = rng.choice(len(i), max_pairs, replace=False)
        i, j = i[pick], j[pick]
    genuine = np.einsum("nd,nd->n", x[i], x[j])
    a, b = rng.integers(0, len(y), max_pairs), rng.integers(0, len(y), max_pairs)
    a, b = a[y[a] != y[b]], b[y[a] != y[b]]
    impostor = np.einsum("nd,nd->n", x[a], x[b])
    for far in fars:
        tar = tar_at_far(genuine, impostor, far)
        out[f"verify/tar@far={far:g}"] = tar
        out[f"verify/fnmr@fmr={far:g}"] = 1.0 - tar
    return out, block
