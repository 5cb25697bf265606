"""Choosing the open-set threshold: answer ``unknown`` when the confidence is below it.

Held-out calibration queries (some of enrolled classes, ideally some of classes that are not)
are classified; from their confidences ``s_i``, correctness ``c_i`` (right class; never for a
query of an unenrolled class) and ``known_i``:

- ``target_precision=p``: the lowest threshold ``t`` with
  ``sum_i c_i [s_i >= t] / sum_i [s_i >= t] >= p`` (the most answers at that precision);
- ``target_fmr=f``: the lowest ``t`` that accepts at most ``floor(f M)`` of the ``M``
  calibration queries of unenrolled classes (the open-set false-match rate: the fraction of
  strangers given a name).

:func:`calibrate` returns the threshold, the target and the precision-coverage curve it came
from (at most :data:`CURVE_POINTS` points), as ``index.json``'s ``classifier`` block stores them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metriclab.errors import ConfigError
from metriclab.recognition.openset import (
    decision_metrics,
    precision_coverage,
    threshold_at_fmr,
    threshold_at_precision,
)

CURVE_POINTS = 200

#: The centroid confidences ``temperature=auto`` chooses between: the cosine (0) and softmaxes.
AUTO_TEMPERATURES = (0.0, 0.02, 0.05, 0.1, 0.2)


def temperature_options(text: object, key: str = "temperature") -> tuple[float, ...]:
    """``auto`` -> :data:`AUTO_TEMPERATURES`; ``T`` (0: the cosine, ``> 0`` a softmax) ->
    ``(T,)``; anything else is a :class:`ConfigError` naming ``key``."""
    if str(text) == "auto":
        return AUTO_TEMPERATURES
    try:
        value = float(str(text))
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigError(
            f"{key}={text}: use auto, 0 (the cosine) or a softmax temperature > 0 (e.g. 0.1)"
        )
    return (value,)


def checked_target(target_precision: float | None, target_fmr: float | None) -> tuple[str, float]:
    """``("precision" | "fmr", value)``; a :class:`ConfigError` unless exactly one is given, in
    ``(0, 1]``."""
    if (target_precision is None) == (target_fmr is None):
        raise ConfigError(
            f"target_precision={target_precision}, target_fmr={target_fmr}: give exactly one "
            "calibration target, e.g. target_precision=0.95 or target_fmr=1e-3"
        )
    name, value = ("precision", target_precision) if target_fmr is None else ("fmr", target_fmr)
    if not 0 < float(value) <= 1:
        raise ConfigError(f"target_{name}={value}: must be in (0, 1], e.g. 0.95 or 1e-3")
    return name, float(value)


def calibrate(
    scores: np.ndarray,
    correct: np.ndarray,
    known: np.ndarray,
    target_precision: float | None = None,
    target_fmr: float | None = None,
) -> dict[str, Any]:
    """The threshold for one target (see the module docstring) and what it gives.

    Args:
        scores: ``[N]`` classifier confidences of the calibration queries.
        correct: ``[N]`` bool, the predicted class is the query's class.
        known: ``[N]`` bool, the query's class is enrolled.
        target_precision / target_fmr: exactly one of them, in ``(0, 1]``.

    Returns:
        ``{"threshold", "target": {"precision"|"fmr": value}, "calibration": decision_metrics at
        the threshold (+ n_queries, n_unknown), "curve": {"threshold", "coverage", "precision"}}``.
    """
    name, value = checked_target(target_precision, target_fmr)
    known = np.asarray(known, dtype=bool)
    if name == "precision":
        threshold = threshold_at_precision(scores, correct, float(value))
    else:
        if known.all():
            raise ConfigError(
                f"target_fmr={value} needs calibration queries of classes that are not in the "
                "gallery (all were enrolled classes); add some, or use target_precision="
            )
        threshold = threshold_at_fmr(np.asarray(scores)[~known], float(value))
    curve = precision_coverage(scores, correct)
    keep = np.unique(np.linspace(0, len(curve["threshold"]) - 1, CURVE_POINTS).round().astype(int))
    stats = decision_metrics(scores, correct, known, threshold)
    n_accepted = int((np.asarray(scores) >= threshold).sum())
    stats.update(n_queries=int(len(known)), n_unknown=int((~known).sum()), n_accepted=n_accepted)
    return {
        "threshold": float(threshold),
        "target": {name: float(value)},
        "calibration": stats,
        "curve": {k: [round(float(v), 6) for v in curve[k][keep]] for k in curve},
    }


def calibrate_best(
    confidences: dict[float, np.ndarray],
    correct: np.ndarray,
    known: np.ndarray,
    target_precision: float | None = None,
    target_fmr: float | None = None,
) -> tuple[float, dict[str, Any]]:
    """Of several confidences of the same decisions (``{option: [N]}``, e.g. one per softmax
    temperature), the option whose threshold answers the most calibration queries at the target
    (the first listed on a tie), and its :func:`calibrate` block with ``"choices"``:
    ``{option: answers}`` for every option.

    Which confidence ranks the right answers first depends on the strangers: near-duplicates of
    enrolled classes favour a softmax's margin, strangers that are merely far from everything the
    plain cosine. The choice is made on the calibration queries alone.
    """
    blocks = {
        option: calibrate(scores, correct, known, target_precision, target_fmr)
        for option, scores in confidences.items()
    }
    answers = {option: b["calibration"]["n_accepted"] for option, b in blocks.items()}
    best = max(answers, key=lambda option: answers[option])  # max keeps the first of a tie
    return best, {**blocks[best], "choices": {str(o): n for o, n in answers.items()}}


def split_halves(
    labels: np.ndarray, known: np.ndarray, seed: int = 0, strangers: str = "item"
) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint boolean masks ``[N]`` over queries. Each class's queries are split item by
    item (a random half of them each side, the odd one alternating between the sides); with
    ``strangers="class"`` the unknown-class queries are split class by class instead (the
    strangers of one half never appear in the other: a stricter test, but its precision then
    varies with which stranger classes fell on each side)."""
    rng = np.random.default_rng(seed)
    labels, known = np.asarray(labels), np.asarray(known, dtype=bool)
    if strangers not in ("item", "class"):
        raise ConfigError(f"strangers={strangers}: choose item or class")
    first = np.zeros(len(labels), dtype=bool)
    by_item = np.unique(labels[known] if strangers == "class" else labels)
    for i, c in enumerate(by_item):
        rows = rng.permutation(np.flatnonzero(labels == c))
        first[rows[: (len(rows) + i % 2) // 2]] = True
    if strangers == "class":
        names = rng.permutation(np.unique(labels[~known]))
        first[~known & np.isin(labels, names[: (len(names) + 1) // 2])] = True
    return first, ~first
