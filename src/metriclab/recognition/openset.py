"""Open-set recognition and verification metrics: pure functions, arrays in, floats out.

Conventions: a score is a confidence (higher = more sure); a query is *accepted* when
``score >= threshold`` and otherwise answered ``unknown``. ``correct[i]`` says whether query
``i``'s predicted class is its true class (always ``False`` for a query of a class that is not
enrolled, so accepting it is a mistake).

- :func:`auroc`: ``P(s_pos > s_neg) + P(s_pos = s_neg) / 2`` (Mann-Whitney), known vs unknown;
- :func:`precision_coverage`: for every threshold, ``coverage = accepted / N`` and
  ``precision = correct accepted / accepted``;
- :func:`threshold_at_precision`: the lowest threshold whose precision reaches a target;
- :func:`threshold_at_fmr`: the lowest threshold that accepts at most ``target * n`` impostors;
- :func:`tar_at_far`: verification true-accept rate at a false-accept rate on pair scores
  (``FNMR@FMR = 1 - TAR@FAR``);
- :func:`decision_metrics`: precision, coverage and open-set accuracy at one threshold.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _scores(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def auroc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """Area under the ROC curve of ``positive [P]`` vs ``negative [M]`` scores, ties counted
    half: ``(sum of positive ranks - P (P + 1) / 2) / (P M)`` with average ranks."""
    pos, neg = _scores(positive_scores), _scores(negative_scores)
    if not len(pos) or not len(neg):
        raise ValueError(f"AUROC needs both kinds of scores, got {len(pos)} and {len(neg)}")
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def precision_coverage(scores: np.ndarray, correct: np.ndarray) -> dict[str, np.ndarray]:
    """The precision-coverage curve, one point per distinct score (highest first).

    Args:
        scores: ``[N]`` confidences.
        correct: ``[N]`` bool, the prediction is right.

    Returns:
        ``threshold [T]`` (descending), ``coverage [T]`` and ``precision [T]`` (ascending
        coverage): accepting ``score >= threshold[t]`` keeps ``coverage[t] * N`` queries of which
        a fraction ``precision[t]`` is correct.
    """
    s, ok = _scores(scores), np.asarray(correct, dtype=bool).reshape(-1)
    if len(s) != len(ok) or not len(s):
        raise ValueError(f"scores and correct must be non-empty and equal: {len(s)}, {len(ok)}")
    order = np.argsort(-s, kind="stable")
    s, ok = s[order], ok[order]
    cut = np.flatnonzero(np.append(s[1:] < s[:-1], True))  # last position of each distinct score
    accepted = cut + 1
    return {
        "threshold": s[cut],
        "coverage": accepted / len(s),
        "precision": np.cumsum(ok)[cut] / accepted,
    }


def threshold_at_precision(scores: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest threshold ``t`` (most coverage) with ``precision(score >= t) >= target``;
    a threshold above every score (reject all) when no threshold reaches it."""
    curve = precision_coverage(scores, correct)
    ok = np.flatnonzero(curve["precision"] >= target)
    if not len(ok):
        return float(np.nextafter(curve["threshold"][0], np.inf))
    return float(curve["threshold"][ok[-1]])


def threshold_at_fmr(impostor_scores: np.ndarray, target: float) -> float:
    """The lowest threshold that accepts at most ``floor(target * M)`` of the ``M`` impostor
    scores: just above the ``(floor(target M) + 1)``-th highest (ties all rejected)."""
    s = np.sort(_scores(impostor_scores))[::-1]
    if not len(s):
        raise ValueError("threshold_at_fmr needs impostor scores")
    allowed = int(np.floor(target * len(s) + 1e-9))
    if allowed >= len(s):
        return float(-np.inf)
    return float(np.nextafter(s[allowed], np.inf))


def tar_at_far(genuine_scores: np.ndarray, impostor_scores: np.ndarray, far: float) -> float:
    """Verification: the fraction of genuine pairs accepted at the threshold
    :func:`threshold_at_fmr` picks on the impostor pairs (``FNMR@FMR = 1 - TAR@FAR``)."""
    return float(np.mean(_scores(genuine_scores) >= threshold_at_fmr(impostor_scores, far)))


def decision_metrics(
    scores: np.ndarray, correct: np.ndarray, known: np.ndarray, threshold: float
) -> dict[str, float]:
    """What answering ``unknown`` below ``threshold`` gives on ``N`` queries.

    Args:
        scores, correct: ``[N]`` as in :func:`precision_coverage`.
        known: ``[N]`` bool, the query's class is enrolled.
        threshold: accept ``score >= threshold``.

    Returns:
        ``precision`` (correct accepted / accepted; 1.0 when none is accepted), ``coverage``
        (accepted / N), ``accuracy`` (right class accepted, or an unknown query rejected, / N),
        ``known_accept`` (accepted known / known) and ``unknown_accept`` (accepted unknown /
        unknown: the open-set false-match rate).
    """
    s, ok = _scores(scores), np.asarray(correct, dtype=bool).reshape(-1)
    known = np.asarray(known, dtype=bool).reshape(-1)
    accepted = s >= threshold
    n_acc = int(accepted.sum())
    return {
        "precision": float((ok & accepted).sum() / n_acc) if n_acc else 1.0,
        "coverage": float(accepted.mean()),
        "accuracy": float(((ok & accepted) | (~known & ~accepted)).mean()),
        "known_accept": float(accepted[known].mean()) if known.any() else 0.0,
        "unknown_accept": float(accepted[~known].mean()) if (~known).any() else 0.0,
    }
