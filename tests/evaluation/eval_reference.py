"""Independent brute-force references and test data for the evaluation tests.

Written from the definitions in SPEC.md, not from the package: one query at a time, a full
similarity row, a stable argsort, explicit removal of the query's own position.
"""

from __future__ import annotations

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ranked_neighbours(q: np.ndarray, g: np.ndarray | None) -> list[np.ndarray]:
    """For each query, all gallery indices by similarity descending, ties to the lower index."""
    self_mode = g is None
    qn = unit_rows(q)
    gn = qn if self_mode else unit_rows(g)
    out = []
    for i in range(len(qn)):
        sims = (gn * qn[i]).sum(axis=1)  # not BLAS gemv: equal rows must give equal sums
        order = np.argsort(-sims, kind="stable")
        if self_mode:
            order = order[order != i]
        out.append(order)
    return out


def reference_metrics(q, q_labels, g=None, g_labels=None, ks=(1, 2, 4, 8)) -> dict[str, float]:
    """Recall@k, precision@1, R-precision and MAP@R by a loop over queries."""
    q_labels = np.asarray(q_labels)
    g_labels = q_labels if g is None else np.asarray(g_labels)
    rows = {f"recall@{k}": [] for k in ks} | {"precision@1": [], "r_precision": [], "map@r": []}
    for i, order in enumerate(ranked_neighbours(q, g)):
        relevant = g_labels[order] == q_labels[i]
        r = int(relevant.sum())
        if r == 0:  # lone query: no metric
            continue
        for k in ks:
            rows[f"recall@{k}"].append(float(relevant[:k].any()))
        rows["precision@1"].append(float(relevant[0]))
        rows["r_precision"].append(relevant[:r].sum() / r)
        ap = sum(relevant[:j].sum() / j for j in range(1, r + 1) if relevant[j - 1])
        rows["map@r"].append(ap / r)
    return {key: float(np.mean(v)) for key, v in rows.items()}


def random_data(n: int, d: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, classes, n)


def tied_data(n: int, d: int, classes: int, seed: int, pool: int = 6):
    """Rows copied from a few random directions: many exact ties, labels independent of them."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((pool, d)).astype(np.float32)
    return directions[rng.integers(0, pool, n)], rng.integers(0, classes, n)
