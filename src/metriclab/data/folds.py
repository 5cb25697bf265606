"""Class-disjoint k-fold splits of the training classes (``protocol=kfold``).

"A Metric Learning Reality Check" (Musgrave, Belongie & Lim, ECCV 2020) chooses every
hyper-parameter on class-disjoint folds of the training classes and never looks at the test
classes until the end. With the ``N`` training class ids sorted, ``k`` folds and block size
``b = floor(N / k)``, fold ``p`` (``0 <= p < k``) validates on the sorted classes at positions

    ``(floor(p * N / k) + i) mod N``  for  ``i = 0 .. b - 1``

(the block of ``1/k`` of the classes that starts at ``floor(p N / k)``, wrapping round) and trains
on the other ``N - b``. The blocks of the ``k`` folds are pairwise disjoint (``floor(pN/k) + b <=
floor((p+1)N/k)``), every fold validates on the same number of classes, and when ``k`` does not
divide ``N`` the ``N mod k`` classes between blocks (at most ``k - 1``) validate in no fold: they
train in every fold. This is the rule of the paper's code (its validation length is
``int(N / k)`` and the remainder goes to training). ``N < k`` is refused.
"""

from __future__ import annotations

import numpy as np

from metriclab.errors import ConfigError


def fold_classes(
    classes: np.ndarray | list[int], folds: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` class ids of fold ``fold`` of ``folds`` over ``classes`` (any order).

    Args:
        classes: the training split's class ids (sorted here; duplicates count once).
        folds: ``k >= 2``.
        fold: ``p`` in ``0 .. k-1``.

    Returns:
        Two sorted ``int64`` arrays: ``N - floor(N/k)`` training and ``floor(N/k)`` validation
        class ids, disjoint, together all of ``classes``.

    Raises:
        ConfigError: ``k < 2``, ``p`` outside ``0..k-1``, or fewer classes than folds.
    """
    sorted_ids = np.unique(np.asarray(classes, dtype=np.int64))
    n, folds, fold = len(sorted_ids), int(folds), int(fold)
    if folds < 2:
        raise ConfigError(f"protocol.folds={folds} must be at least 2; use protocol.folds=4")
    if not 0 <= fold < folds:
        raise ConfigError(
            f"protocol.fold={fold} is not a fold of protocol.folds={folds}; use 0..{folds - 1}"
        )
    if n < folds:
        raise ConfigError(
            f"protocol.folds={folds} needs at least {folds} training classes, the training "
            f"split has {n}; lower protocol.folds or use a data set with more classes"
        )
    size = n // folds
    start = fold * n // folds
    val_pos = (start + np.arange(size)) % n
    is_val = np.zeros(n, dtype=bool)
    is_val[val_pos] = True
    return sorted_ids[~is_val], sorted_ids[is_val]


def never_validated(classes: np.ndarray | list[int], folds: int) -> np.ndarray:
    """The class ids that validate in no fold (``N mod k`` of them): they train in every fold."""
    sorted_ids = np.unique(np.asarray(classes, dtype=np.int64))
    seen = np.concatenate([fold_classes(sorted_ids, folds, p)[1] for p in range(folds)])
    return np.setdiff1d(sorted_ids, seen)
