"""Arithmetic of the candidate search: which matmul precision, and how far its scores can be off.

The candidate search (:mod:`metriclab.search.blocked`) scores pairs with a cheap matmul and
re-scores its candidates with the reference arithmetic ``e(x, y)`` of
:func:`metriclab.search.exact.pair_sims` (elementwise float32 products summed along ``D``).
:class:`ErrorModel` bounds the difference of the two for unit-norm rows ``x`` (query) and ``y``
(gallery), with ``s~`` the cheap score:

    |s~ - e(x, y)| <= b0 + c * |s~|

* ``"fp32"``: full-precision float32 matmul; its error and that of ``e`` are each at most
  ``gamma(D + 1) * |x| |y|`` with ``gamma(n) = n u / (1 - n u)``, ``u = 2**-24``; ``c = 0``.
* ``"bf16"``: inputs rounded to bfloat16 (round to nearest), ``x = x~ + r_x`` with the residual
  ``r_x`` exact in float32, so ``|x.y - x~.y~| <= |x~||r_y| + |r_x||y~| + |r_x||r_y|`` (the
  measured norms, maxima over each set); products of bfloat16 are exact in float32 and summed in
  float32 (``gamma(D) |x~||y~|``); where the result comes back rounded to bfloat16 (torch on CPU)
  ``c = 2**-8 / (1 - 2**-8)``; on CUDA with ``torch.mm(..., out_dtype=float32)`` it comes back in
  float32 (``c = 0``).
* ``"tf32"`` (CUDA): inputs rounded by the hardware to 10 mantissa bits, truncation or nearest,
  so each coordinate has relative error below ``2**-10``:
  ``(2 * 2**-10 + 2**-20) |x||y|``, plus the float32 sums.

``b0`` is then widened by ``2**-10`` of itself and ``2**-30`` (flushed denormals, norms
rounding): a margin, not a guess about the hardware.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "fp32", "bf16", "tf32")
_U32 = 2.0**-24
_U_BF16 = 2.0**-8
_U_TF32 = 2.0**-10
_FAST_RATIO = 1.5  # bf16 must beat fp32 by this factor to count as fast


def _gamma(n: int) -> float:
    return n * _U32 / (1.0 - n * _U32)


@dataclass(frozen=True)
class ErrorModel:
    """``|s~ - e| <= b0 + c |s~|`` for the scores of one precision (see the module docstring)."""

    b0: float
    c: float = 0.0

    def threshold(self, kth: torch.Tensor) -> torch.Tensor:
        """The candidate threshold ``theta(v)`` of rows whose ``k``-th cheap score is ``v``.

        ``k`` items have ``s~ >= v``, so ``e_(k) >= f(v) = v - c|v| - b0`` (``f`` increases);
        an item of the exact top-k has ``g(s~) = s~ + c|s~| >= e - b0 >= f(v) - b0``, so
        ``s~ >= theta(v) = g^-1(f(v) - b0)``. ``theta`` increases with ``v``: a running
        lower bound of ``v`` gives a threshold that keeps every exact neighbour.
        """
        y = kth - self.c * kth.abs() - 2.0 * self.b0
        return torch.where(y >= 0, y / (1.0 + self.c), y / (1.0 - self.c))

    def gap(self, s: torch.Tensor) -> torch.Tensor:
        """Two cheap scores of which the larger is ``s`` whose exact order is unknown differ by
        at most ``gap(s) = 2 (b0 + c |s|) / (1 - c)``."""
        return 2.0 * (self.b0 + self.c * s.abs()) / (1.0 - self.c)


def _max_norms(x: torch.Tensor, rows: int = 2**16) -> tuple[float, float, float]:
    """Upper bounds of ``max |x_i|``, ``max |x~_i|`` and ``max |x_i - x~_i|`` (``x~`` = bfloat16
    of ``x``; the difference is exact in float32), ``rows`` at a time (no full-size copy).

    Norms are summed in float32: relative error at most ``(D + 2) 2**-24`` (positive terms,
    then a square root), so each is widened by ``(D + 2) 2**-23``.
    """
    out = torch.zeros(3, device=x.device)
    for r0 in range(0, len(x), rows):
        part = x[r0 : r0 + rows]
        rounded = part.bfloat16().float()
        norms = [t.norm(dim=1).max() for t in (part, rounded, part - rounded)]
        out = torch.maximum(out, torch.stack(norms))
    return tuple((out.double() * (1 + (x.shape[1] + 2) * 2.0**-23)).tolist())


def error_model(precision: str, query: torch.Tensor, gallery: torch.Tensor) -> ErrorModel:
    """The bound of :class:`ErrorModel` for ``query [Nq, D]``, ``gallery [Ng, D]`` (float32)."""
    d = query.shape[1]
    (xn, q_n, q_res), (yn, g_n, g_res) = _max_norms(query), _max_norms(gallery)
    e_ref = _gamma(d + 1) * xn * yn  # the re-scoring arithmetic
    if precision == "fp32":
        b0, c = _gamma(d + 1) * xn * yn + e_ref, 0.0
    elif precision == "tf32":
        u = _U_TF32
        b0, c = (2 * u + u * u) * xn * yn + _gamma(d) * (1 + u) ** 2 * xn * yn + e_ref, 0.0
    elif precision == "bf16":
        rounding = q_n * g_res + q_res * g_n + q_res * g_res
        b0 = rounding + _gamma(d) * q_n * g_n + e_ref
        c = 0.0 if _float32_out(query.device) else _U_BF16 / (1.0 - _U_BF16)
    else:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS[1:])}, got {precision!r}")
    return ErrorModel(b0=b0 * (1 + 2.0**-10) + 2.0**-30, c=c)


def cheap_scores(a: torch.Tensor, b: torch.Tensor, precision: str) -> torch.Tensor:
    """``a [m, D] @ b [n, D].T`` in ``precision``; ``a``, ``b`` already in its input dtype
    (bfloat16 for ``"bf16"``, float32 otherwise). bf16 on CUDA returns float32."""
    if precision == "bf16" and _float32_out(a.device):
        return torch.mm(a, b.T, out_dtype=torch.float32)
    with matmul_precision("high" if precision == "tf32" else "highest"):
        return a @ b.T


@functools.cache
def _float32_out(device: torch.device) -> bool:
    """Whether ``torch.mm(bf16, bf16, out_dtype=torch.float32)`` runs on ``device`` (CUDA, torch
    2.8 and later); elsewhere the bf16 matmul comes back rounded to bf16 (``c > 0``)."""
    if device.type != "cuda":
        return False
    try:
        one = torch.ones(1, 1, dtype=torch.bfloat16, device=device)
        return torch.mm(one, one, out_dtype=torch.float32).dtype == torch.float32
    except (TypeError, RuntimeError, NotImplementedError):
        return False


@contextmanager
def matmul_precision(level: str) -> Iterator[None]:
    """Run float32 matmuls at ``torch.set_float32_matmul_precision(level)``, then restore."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(level)
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


@functools.cache
def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls on ``device`` are exact-summing and faster than float32, measured.

    Two checks, once per process and device: (1) the sums are float32, not bfloat16:
    ``[1, 2**-8 x 256] . [1 x 257]`` is 2 in float32 sums and 1 in bfloat16 sums; (2) a
    ``[1024, 256] @ [256, 1024]`` matmul in bf16 takes at most ``1 / 1.5`` of its float32 time
    (best of 3 each).
    """
    x = torch.full((1, 257), 2.0**-8, device=device)
    x[0, 0] = 1.0
    ones = torch.ones(1, 257, device=device)
    if float(cheap_scores(x.bfloat16(), ones.bfloat16(), "bf16")[0, 0]) != 2.0:
        return False
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(1024, 256, generator=gen).to(device)
    times = {}
    for precision, t in (("fp32", a), ("bf16", a.bfloat16())):
        best = float("inf")
        for _ in range(4):  # the first is a warm-up
            _sync(device)
            start = time.perf_counter()
            cheap_scores(t, t, precision)
            _sync(device)
            best = min(best, time.perf_counter() - start)
        times[precision] = best
    return times["bf16"] * _FAST_RATIO <= times["fp32"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def resolve_precision(precision: str, device: torch.device, work: float) -> str:
    """The concrete precision: ``"auto"`` is ``"bf16"`` where :func:`fast_bf16` holds and the
    search is big enough to repay the check (``work = Nq * Ng * D >= 2**30``), else ``"fp32"``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "tf32" and device.type != "cuda":
        raise ValueError("precision='tf32' needs CUDA tensors; use 'bf16' or 'fp32' on the CPU")
    if precision != "auto":
        return precision
    return "bf16" if work >= 2**30 and fast_bf16(device) else "fp32"
