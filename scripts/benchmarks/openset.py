"""Open-set calibration table: ``python scripts/benchmarks/openset.py EVAL_DIR [seeds=3]``.

Reads ``test_embeddings.npy`` / ``test_labels.npy`` written by
``scripts/eval.py ckpt_path=PATH save_embeddings=true`` and runs the protocol of
:mod:`metriclab.recognition.metrics` (enrol 5 items of half the classes; query items 6..
of all classes; calibrate on one query half, measure on the other) for each classifier and
target precision, over ``seeds`` class splits (seed 0, 1, ...). Prints one row per setting:
AUROC, the held-out precision (mean, and the largest distance from the target), the held-out
coverage and open-set accuracy, and the fewest calibration queries answered at the threshold
(0: the target was reached nowhere on that calibration half, so the threshold rejects all).
"""

from __future__ import annotations

import sys
from itertools import product
from pathlib import Path

import numpy as np

from metriclab.recognition.metrics import recognition_metrics

SETTINGS = [("knn", 5, 0.0), ("centroid", 5, 0.0), ("centroid", 5, 0.1), ("centroid", 5, "auto")]
TARGETS = (0.95, 0.9, 0.8)
STRANGERS = ("item", "class")


def row(
    x, y, method: str, k: int, t: float | str, strangers: str, target: float, seeds: int
) -> str:
    """One table row: the protocol over ``seeds`` class splits."""
    both = [
        recognition_metrics(
            x,
            y,
            shots=(),
            k=k,
            method=method,
            temperature=t,
            target_precision=target,
            strangers=strangers,
            seed=s,
            fars=(),
        )
        for s in range(seeds)
    ]
    runs = [metrics for metrics, _ in both]
    answered = [block["calibration"]["n_accepted"] for _, block in both]
    name = f"{method} k={k}" if method == "knn" else f"centroid T={t}"
    p = np.array([r["openset/precision"] for r in runs])
    mean = lambda key: np.mean([r[key] for r in runs])  # noqa: E731
    return (
        f"| {name} | {strangers} | {target} | {mean(f'openset/{method}_auroc'):.3f} | "
        f"{p.mean():.3f} | {np.abs(p - target).max():.3f} | {mean('openset/coverage'):.3f} | "
        f"{mean('openset/accuracy'):.3f} | {min(answered)} |"
    )


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if not argv or not (Path(argv[0]) / "test_labels.npy").is_file():
        print(__doc__, file=sys.stderr)
        given = f" ({argv[0]} holds no test_embeddings.npy)" if argv and argv[0][0] != "-" else ""
        print(
            f"error: pass the folder of python scripts/eval.py ... save_embeddings=true{given}",
            file=sys.stderr,
        )
        return 2
    folder = Path(argv[0])
    seeds = int(argv[1].partition("=")[2]) if len(argv) > 1 else 3
    x, y = np.load(folder / "test_embeddings.npy"), np.load(folder / "test_labels.npy")
    print(f"{len(y)} items, {len(np.unique(y))} classes, seeds 0..{seeds - 1}")
    print(
        "| classifier | halves | target | AUROC | held-out precision (mean) | "
        "max abs(p - target) | coverage | open-set accuracy | fewest calibration answers |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for (method, k, t), strangers, target in product(SETTINGS, STRANGERS, TARGETS):
        print(row(x, y, method, k, t, strangers, target, seeds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
