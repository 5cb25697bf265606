"""The reference arithmetic of exact re-scoring on the CPU: float32 inputs, float64 sums.

Every exact path decides close calls and ties with one pair function ``e(x, y)``, which must
depend on the two rows alone (not on their positions, their batch or their memory alignment),
so equal gallery rows get equal scores and ties go to the lower index. On the CPU (numba
installed) that is :func:`pair_dots`/:func:`dense_dots`: the ``D`` products ``x_d * y_d`` of
float32 values are exact in float64 and summed in float64 in a fixed order (four interleaved
partial sums, combined as ``(s0 + s1) + (s2 + s3)``, then the tail), with no reassociation by
the compiler; the error against the exact inner product is at most ``D * 2**-53 * |x||y|``.
Elsewhere (CUDA) it is torch's elementwise float32 product summed along ``D``.
"""

from __future__ import annotations

import numpy as np
import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency
    numba = None


def available(x: torch.Tensor) -> bool:
    """Whether the float64 CPU kernels serve ``x``."""
    return numba is not None and not x.is_cuda


def pair_dots(q: torch.Tensor, g: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor):
    """``e(q[rows[p]], g[cols[p]])`` for every pair: ``[P]`` float64."""
    qa, ga = q.contiguous().numpy(), g.contiguous().numpy()
    out = _pairs(qa, ga, rows.numpy().astype(np.int64), cols.numpy().astype(np.int64))
    return torch.from_numpy(out)


def dense_dots(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``e(q[i], g[j])`` for all pairs: ``[r, Ng]`` float64."""
    return torch.from_numpy(_dense(q.contiguous().numpy(), g.contiguous().numpy()))


if numba is not None:

    @numba.njit(cache=True, nogil=True)
    def _dot(x, y):  # pragma: no cover - compiled
        d = x.shape[0]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        body = d - d % 4
        for i in range(0, body, 4):
            s0 += np.float64(x[i]) * np.float64(y[i])
            s1 += np.float64(x[i + 1]) * np.float64(y[i + 1])
            s2 += np.float64(x[i + 2]) * np.float64(y[i + 2])
            s3 += np.float64(x[i + 3]) * np.float64(y[i + 3])
        s = (s0 + s1) + (s2 + s3)
        for i in range(body, d):
            s += np.float64(x[i]) * np.float64(y[i])
        return s

    @numba.njit(cache=True, nogil=True)
    def _pairs(q, g, rows, cols):  # pragma: no cover - compiled
        out = np.empty(rows.shape[0], np.float64)
        for p in range(rows.shape[0]):
            out[p] = _dot(q[rows[p]], g[cols[p]])
        return out

    @numba.njit(cache=True, nogil=True)
    def _dense(q, g):  # pragma: no cover - compiled
        out = np.empty((q.shape[0], g.shape[0]), np.float64)
        for i in range(q.shape[0]):
            for j in range(g.shape[0]):
                out[i, j] = _dot(q[i], g[j])
        return out
