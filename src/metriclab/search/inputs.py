"""Validation and conversion of the arrays handed to the evaluation functions.

Every check raises a one-line :class:`ValueError` that names the argument, the value seen and the
fix. Embeddings become float32 torch tensors on their original device (numpy input is wrapped
without a copy where possible); labels become int64 numpy arrays on the CPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch


def as_embeddings(x: Any, name: str) -> torch.Tensor:
    """Check an ``[N, D]`` float array or tensor and return it as a float32 tensor ``[N, D]``.

    fp16/bf16/fp64 input is converted to float32; the device of a tensor is kept.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
    elif isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"{name} must be a float array, got dtype {x.dtype}; cast it first")
        t = torch.from_numpy(x if x.dtype != np.float64 else x.astype(np.float32))
    else:
        raise ValueError(
            f"{name} must be a numpy array or torch tensor [N, D], got {type(x).__name__}"
        )
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {t.dtype}; cast it first")
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D [N, D], got shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass at least one embedding")
    t = t.float()
    # a NaN/Inf makes the sum non-finite; only then (or on overflow) look for the row
    if not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t).all(dim=1)).nonzero()[0, 0])
        raise ValueError(
            f"{name} contains NaN or Inf (first bad row: {bad}); check the model's outputs"
        )
    return t


def as_labels(y: Any, n: int, name: str) -> np.ndarray:
    """Check an integer label array/tensor ``[n]`` and return it as int64 numpy ``[n]``."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {y.dtype}; cast with .astype(int)")
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"{name} has shape {y.shape} but the embeddings have {n} rows; pass one label per row"
        )
    return y.astype(np.int64, copy=False)


def as_ks(ks: Iterable[int]) -> tuple[int, ...]:
    """Check that ``ks`` is a non-empty sequence of positive integers."""
    try:
        out = tuple(ks)
    except TypeError:
        raise ValueError(f"ks must be a sequence of positive integers, got {ks!r}") from None
    ok = all(isinstance(k, int | np.integer) and not isinstance(k, bool) and k > 0 for k in out)
    if not out or not ok:
        raise ValueError(f"ks must be a non-empty sequence of positive integers, got {ks!r}")
    return tuple(int(k) for k in out)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """The numpy :func:`~metriclab.distances.base.l2_normalize`: rows of ``x [N, D]`` divided
    by ``max(||x||, 1e-12)``, ``float32`` C-contiguous (zero rows stay zero)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
