"""Pair and triplet index tuples: building them from labels and converting between kinds.

The one place where index tuples change form. A miner returns either triplets ``(a, p, n)`` or
pairs ``(a1, p, a2, n)`` (int64 ``[T]`` each, pytorch-metric-learning's convention); a loss
accepts either. Losses work on ``[B, R]`` matrices, so tuples are turned into *pair weight
matrices* (:func:`pair_counts`): ``pos[i, j]`` counts how often ``(i, j)`` appears as a positive
pair (a triplet ``(a, p, n)`` gives the pairs ``(a, p)`` and ``(a, n)``), which keeps duplicates
exactly as an index list would, in ``O(B * R)`` memory whatever the number of tuples.
"""

from __future__ import annotations

import torch
from torch import Tensor

IndicesTuple = tuple[Tensor, Tensor, Tensor] | tuple[Tensor, Tensor, Tensor, Tensor]


def check_indices_tuple(indices_tuple: IndicesTuple) -> None:
    """Raise ``ValueError`` unless ``indices_tuple`` is 3 or 4 equal-length-paired 1-D tensors."""
    if not isinstance(indices_tuple, tuple | list) or len(indices_tuple) not in (3, 4):
        raise ValueError(
            "indices_tuple must be (anchor, positive, negative) or (anchor1, positive, anchor2, "
            f"negative); got {type(indices_tuple).__name__} of length "
            f"{len(indices_tuple) if hasattr(indices_tuple, '__len__') else '?'}"
        )
    lengths = [len(t) for t in indices_tuple]
    ok = len(set(lengths)) == 1 if len(lengths) == 3 else lengths[0] == lengths[1]
    ok = ok and (len(lengths) == 3 or lengths[2] == lengths[3])
    if not ok:
        raise ValueError(f"indices_tuple members have inconsistent lengths {lengths}")


def all_pairs_masks(labels: Tensor, ref_labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Boolean ``[B, R]`` masks of every positive and negative pair.

    With ``ref_labels=None`` the batch is compared with itself and the diagonal (an item with
    itself) is neither positive nor negative.
    """
    same = labels.unsqueeze(1) == (labels if ref_labels is None else ref_labels).unsqueeze(0)
    if ref_labels is None:
        same.fill_diagonal_(False)
        neg = labels.unsqueeze(1) != labels.unsqueeze(0)
    else:
        neg = ~same
    return same, neg


def triplets_to_pairs(a: Tensor, p: Tensor, n: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(a, p, n) -> (a, p, a, n)``: each triplet gives one positive and one negative pair."""
    return a, p, a, n


def to_pairs(indices_tuple: IndicesTuple) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Either kind of tuple as pairs ``(a1, p, a2, n)``."""
    check_indices_tuple(indices_tuple)
    if len(indices_tuple) == 3:
        return triplets_to_pairs(*indices_tuple)
    return tuple(indices_tuple)  # type: ignore[return-value]


def pairs_to_triplets(
    a1: Tensor, p: Tensor, a2: Tensor, n: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Every ``(positive pair, negative pair)`` combination that shares its anchor.

    Explicit indices: ``O(P * N)`` memory. Losses use :func:`pair_counts` instead, which
    represents the same multiset of triplets as two ``[B, R]`` count matrices.
    """
    i, j = torch.nonzero(a1.unsqueeze(1) == a2.unsqueeze(0), as_tuple=True)
    return a1[i], p[i], n[j]


def pair_counts(
    indices_tuple: IndicesTuple, rows: int, cols: int, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """``[rows, cols]`` matrices counting each positive and negative pair of the tuple."""
    a1, p, a2, n = to_pairs(indices_tuple)
    pos = torch.zeros(rows, cols, dtype=dtype, device=a1.device)
    neg = torch.zeros(rows, cols, dtype=dtype, device=a1.device)
    if len(a1):
        pos.index_put_((a1.long(), p.long()), torch.ones_like(a1, dtype=dtype), accumulate=True)
    if len(a2):
        neg.index_put_((a2.long(), n.long()), torch.ones_like(a2, dtype=dtype), accumulate=True)
    return pos, neg


def empty_indices(device: torch.device | str, count: int) -> tuple[Tensor, ...]:
    """``count`` empty int64 index tensors (what a miner returns when it finds nothing)."""
    return tuple(torch.empty(0, dtype=torch.long, device=device) for _ in range(count))
