"""The error bound of the cheap scores, its threshold, and the run-time bf16 check."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from metriclab.distances.base import l2_normalize
from metriclab.search import matmul_precision as precision
from metriclab.search.matmul_precision import ErrorModel, cheap_scores, error_model


def worst_rounding_rows(n: int, d: int, seed: int) -> torch.Tensor:
    """Unit rows whose coordinates all sit just below a bf16 rounding midpoint of the same
    sign: bf16 rounds every one down by almost ``2**-8`` of itself, the bound's worst case."""
    rng = np.random.default_rng(seed)
    exponents = rng.integers(-6, -2, size=(n, d)).astype(np.float64)
    x = 2.0**exponents * (1 + 2**-8 * (1 - 2**-12))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return torch.from_numpy(x.astype(np.float32))


@pytest.mark.parametrize("kind", ["random", "worst"])
@pytest.mark.parametrize("name", ["fp32", "bf16"])
def test_cheap_scores_stay_within_the_bound(kind: str, name: str) -> None:
    d = 64
    if kind == "random":
        x = l2_normalize(torch.randn(300, d, generator=torch.Generator().manual_seed(0)))
    else:
        x = worst_rounding_rows(300, d, seed=1)
    model = error_model(name, x, x)
    cheap = cheap_scores(
        x.bfloat16() if name == "bf16" else x, x.bfloat16() if name == "bf16" else x, name
    )
    exact = x.double() @ x.double().T  # float64 of the float32 rows: the reference, to 1e-15
    err = (cheap.double() - exact).abs()
    allowed = model.b0 + model.c * cheap.double().abs()
    assert bool((err <= allowed).all())
    if kind == "worst" and name == "bf16":
        assert float((err / allowed).max()) > 0.5  # the bound is not loose by much here


def test_threshold_keeps_every_exact_neighbour() -> None:
    """Brute force the claim of ErrorModel.threshold on scores perturbed within the bound."""
    rng = np.random.default_rng(2)
    model = ErrorModel(b0=0.01, c=2**-8)
    for _ in range(200):
        exact = torch.from_numpy(rng.uniform(-1, 1, 50))
        noise = torch.from_numpy(rng.uniform(-1, 1, 50))
        # cheap with |cheap - exact| <= b0 + c|cheap|: solve for the extreme perturbations
        cheap = exact + noise * (model.b0 + model.c * exact.abs()) / (1 + model.c)
        k = int(rng.integers(1, 10))
        kth_cheap = cheap.topk(k).values[-1]
        theta = model.threshold(kth_cheap)
        top = exact.topk(k).indices
        assert bool((cheap[top] >= theta).all())
    grid = torch.linspace(-1, 1, 101)
    assert bool((model.threshold(grid).diff() > 0).all())  # increasing: running bounds are safe


def test_bf16_check_rejects_bfloat16_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    def bf16_sums(a, b, p):  # a matmul that rounds every partial sum to bfloat16
        out = torch.zeros(len(a), len(b), dtype=torch.bfloat16)
        for i in range(a.shape[1]):
            out = out + (a[:, i : i + 1].float() * b[:, i].float()).bfloat16()
        return out

    monkeypatch.setattr(precision, "cheap_scores", bf16_sums)
    precision.fast_bf16.cache_clear()
    try:
        assert precision.fast_bf16(torch.device("cpu")) is False
    finally:
        precision.fast_bf16.cache_clear()


class FakeClock:
    """``time.perf_counter`` stand-in: time moves only when a fake matmul says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("bf16_s", "fast"), [(0.5, True), (0.66, True), (0.7, False), (2.0, False)]
)
def test_bf16_check_measures(monkeypatch: pytest.MonkeyPatch, bf16_s: float, fast: bool) -> None:
    """fp32 takes 1 s and bf16 ``bf16_s`` on a fake clock: bf16 counts as fast iff 1.5x faster."""
    real, clock = precision.cheap_scores, FakeClock()

    def timed(a, b, p):  # exact sums; the duration is set on the fake clock, not slept
        if a.shape[0] > 1:  # the timed [1024, 256] matmuls, not the one-row sum check
            clock.now += bf16_s if p == "bf16" else 1.0
        return real(a, b, p)

    monkeypatch.setattr(precision, "cheap_scores", timed)
    monkeypatch.setattr(precision, "time", SimpleNamespace(perf_counter=clock))
    precision.fast_bf16.cache_clear()
    try:
        assert precision.fast_bf16(torch.device("cpu")) is fast
    finally:
        precision.fast_bf16.cache_clear()


def test_resolve_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(precision, "fast_bf16", lambda device: True)
    assert precision.resolve_precision("auto", cpu, work=2**30) == "bf16"
    assert precision.resolve_precision("auto", cpu, work=2**20) == "fp32"  # too small to pay
    assert precision.resolve_precision("auto", cuda, work=2**31) == "bf16"
    assert precision.resolve_precision("tf32", cuda, work=1) == "tf32"
    monkeypatch.setattr(precision, "fast_bf16", lambda device: False)
    assert precision.resolve_precision("auto", cpu, work=2**40) == "fp32"
    assert precision.resolve_precision("bf16", cpu, work=1) == "bf16"  # asked for: obeyed
    assert precision._float32_out(cpu) is False  # CPU bf16 matmuls return bf16: c > 0
    assert error_model("bf16", torch.eye(2), torch.eye(2)).c > 0
    with pytest.raises(ValueError, match="tf32.*needs CUDA"):
        precision.resolve_precision("tf32", cpu, work=1)
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve_precision("int8", cpu, work=1)
