"""Independent brute-force references and test data for the evaluation tests.

Written from the metric definitions in docs/evaluation.md, not from the package: one query
at a time, a full similarity row, a stable argsort, explicit removal of the query's own position.
"""

from __future__ import annotations

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ranked_neighbours(
    q: np.ndarray, g: np.ndarray | None, normalize: bool = True
) -> list[np.ndarray]:
    """For each query, all gallery indices by similarity descending, ties to the lower index
    (``normalize=False``: rows taken as they are, e.g. the float32 unit rows searched)."""
    self_mode = g is None
    qn = unit_rows(q) if normalize else np.asarray(q, dtype=np.float64)
    gn = qn if self_mode else (unit_rows(g) if normalize else np.asarray(g, dtype=np.float64))
    out = []
    for i in range(len(qn)):
        sims = (gn * qn[i]).sum(axis=1)  # not BLAS gemv: equal rows must give equal sums
        order = np.argsort(-sims, kind="stable")
        if self_mode:
            order = order[order != i]
        out.append(order)
    return out


def reference_metrics(
    q, q_labels, g=None, g_labels=None, ks=(1, 2, 4, 8), normalize: bool = True
) -> dict[str, float]:
    """Recall@k, precision@1, R-precision and MAP@R by a loop over queries."""
    q_labels = np.asarray(q_labels)
    g_labels = q_labels if g is None else np.asarray(g_labels)
    rows = {f"recall@{k}": [] for k in ks} | {"precision@1": [], "r_precision": [], "map@r": []}
    for i, order in enumerate(ranked_neighbours(q, g, normalize)):
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


def near_tied_data(n: int, d: int, classes: int, seed: int, pool: int = 20, eps: float = 1e-2):
    """Rows = one of ``pool`` random unit directions plus noise of norm about ``eps``; 10% are
    exact copies of another row.

    Scores within a direction are ``1 - O(eps**2)`` apart by ``O(eps**2)`` (about 5e-5): far
    below bfloat16's resolution (``2**-8``), so bf16 scores cannot order them, and far above
    float32's, so the float32 order is the float64 order; exact copies tie.
    """
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((pool, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    x = directions[rng.integers(0, pool, n)] + eps / np.sqrt(d) * rng.standard_normal((n, d))
    copies = np.flatnonzero(rng.random(n) < 0.1)
    x[copies] = x[rng.integers(0, n, len(copies))]
    return x.astype(np.float32), rng.integers(0, classes, n)


def fp32_unit_neighbours(q: np.ndarray, g: np.ndarray | None, k: int) -> np.ndarray:
    """``[Nq, k]`` brute force on the float32 unit rows the package searches (normalised by
    torch in float32), each score summed in float64, stable argsort (ties to the lower index)."""
    import torch

    unit = lambda a: torch.nn.functional.normalize(torch.from_numpy(a), dim=1).numpy()  # noqa: E731
    qn = unit(q).astype(np.float64)
    gn = qn if g is None else unit(g).astype(np.float64)
    out = []
    for i in range(len(qn)):
        order = np.argsort(-(gn * qn[i]).sum(axis=1), kind="stable")
        out.append((order[order != i] if g is None else order)[:k])
    return np.stack(out)
