"""One pass over a CPU score block that finds the candidates of its rows and of its columns.

:meth:`CandidatePool.collect <metriclab.search.candidates.CandidatePool.collect>` tests a
block against the row thresholds with a few torch passes (row maxima, comparison, ``nonzero``),
and a self-gallery block twice (rows, then columns). On the CPU those passes cost more than the
bf16 matmul that made the block, so :func:`scan_block` (numba, when installed) reads each score
once and tests it against both its row's and its column's threshold: 64 scores at a time with
an OR of comparisons (vectorised), recording hits one by one only in chunks that have one. It
runs on one thread: on a busy 2-core machine a parallel loop was slower than the serial one,
which keeps far ahead of the matmul (measured in BENCHMARKS.md, "Evaluation at scale").

Scores are compared as integers: for IEEE bits ``b`` (int16 for bfloat16, int32 for float32),
``key(b) = b XOR ((b >> (w - 1)) AND (2**(w-1) - 1))`` (negative values get their magnitude bits
flipped) increases with the value (``-0.0`` sorts just below ``+0.0``). A threshold ``t``
becomes the key of a representable value at or below ``t``, minus one: the test
``key(s) >= key(t)`` then keeps every score ``s >= t`` (and possibly a few just below), never
fewer.
"""

from __future__ import annotations

import numpy as np
import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; the torch path stays correct
    numba = None

WIDTH = 64  # hits per row and side recorded in one pass; rows with more are scanned again
_INT = {torch.bfloat16: torch.int16, torch.float32: torch.int32}


def available(block: torch.Tensor) -> bool:
    """Whether :func:`scan_block` serves ``block`` (CPU, bfloat16 or float32, numba present)."""
    return numba is not None and not block.is_cuda and block.dtype in _INT


def keys(bits: np.ndarray) -> np.ndarray:
    """Order-preserving integer keys of IEEE ``bits`` (int16 or int32), same dtype."""
    sign = 8 * bits.itemsize - 1
    return bits ^ ((bits >> sign) & bits.dtype.type((1 << sign) - 1))


def threshold_keys(theta: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    """Keys at or below float32 thresholds ``theta [m]`` in the scores' ``dtype``, minus one."""
    low = theta.to(dtype)
    over = low.float() > theta  # rounded up: step down below theta
    low = torch.where(over, (theta - theta.abs() * 2**-6 - 1e-30).to(dtype), low)
    k = keys(low.view(_INT[dtype]).numpy()).astype(np.int64) - 1
    info = np.iinfo(np.int16 if dtype == torch.bfloat16 else np.int32)
    return np.clip(k, info.min, info.max).astype(info.dtype)


def scan_block(
    block: torch.Tensor, row_theta: torch.Tensor, col_theta: torch.Tensor | None
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
    """Candidates of ``block [m, n]``: ``(i, j)`` with ``s_ij >= row_theta[i]``, and, when
    ``col_theta [n]`` is given, ``(j, i)`` with ``s_ij >= col_theta[j]`` (sorted by ``j``)."""
    bits = block.contiguous().view(_INT[block.dtype]).numpy()
    row_keys = threshold_keys(row_theta, block.dtype)
    both = col_theta is not None
    col_keys = threshold_keys(col_theta if both else row_theta[:0], block.dtype)
    if not both:  # no column hits: keys above every score
        col_keys = np.full(bits.shape[1], np.iinfo(bits.dtype).max, bits.dtype)
    sign = 8 * bits.itemsize - 1
    t = bits.dtype.type
    rh, rc, ch, cc = _scan(bits, row_keys, col_keys, t(sign), t((1 << sign) - 1), WIDTH)
    rows = _gather_hits(bits, rh, rc, row_keys[:, None])
    if not both:
        return rows, None
    i, j = _gather_hits(bits, ch, cc, col_keys[None, :])
    order = np.argsort(j, kind="stable")
    return rows, (j[order], i[order])


def _gather_hits(bits, hits, counts, limit) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)`` pairs from the per-row hit lists, rows ascending; rows with more than
    ``WIDTH`` hits are tested again in full (``keys(bits) >= limit``)."""
    over = np.flatnonzero(counts > hits.shape[1])
    keep = np.arange(hits.shape[1])[None, :] < counts[:, None]
    i = np.nonzero(keep)[0]
    j = hits[keep].astype(np.int64)
    if len(over):
        lim = limit[over] if limit.shape[0] > 1 else limit
        oi, oj = np.nonzero(keys(bits[over]) >= lim)
        ok = ~np.isin(i, over)
        i = np.concatenate([i[ok], over[oi]])
        j = np.concatenate([j[ok], oj])
        order = np.argsort(i, kind="stable")
        i, j = i[order], j[order]
    return i, j


if numba is not None:

    @numba.njit(cache=True, nogil=True)
    def _scan(bits, row_keys, col_keys, sign, mag, width):  # pragma: no cover - compiled
        m, n = bits.shape
        rh = np.empty((m, width), np.int32)
        ch = np.empty((m, width), np.int32)
        rc = np.zeros(m, np.int64)
        cc = np.zeros(m, np.int64)
        raw = row_keys.min() >= 0 and col_keys.min() >= 0  # then key order = raw bit order
        for i in range(m):
            row = bits[i]
            tr = row_keys[i]
            a = 0
            b = 0
            for j0 in range(0, n, 64):
                j1 = min(j0 + 64, n)
                if raw and j1 - j0 == 64:  # the common case: a vectorised OR of comparisons
                    r = row[j0:j1]
                    c = col_keys[j0:j1]
                    h = np.uint8(0)
                    for j in range(64):
                        h |= np.uint8(r[j] >= tr) | np.uint8(r[j] >= c[j])
                    if h == 0:
                        continue
                for j in range(j0, j1):
                    v = row[j] ^ ((row[j] >> sign) & mag)
                    if v >= tr:
                        if a < width:
                            rh[i, a] = j
                        a += 1
                    if v >= col_keys[j]:
                        if b < width:
                            ch[i, b] = j
                        b += 1
            rc[i] = a
            cc[i] = b
        return rh, rc, ch, cc
