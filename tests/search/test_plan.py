"""Which search runs (CPU and CUDA choices, checked on the CPU), and that a training run says so."""

from __future__ import annotations

import pytest
import torch
from config_helpers import TINY, run_train

from metriclab.metrics import retrieval_metrics
from metriclab.search import backends
from metriclab.search import matmul_precision as precision
from metriclab.search import plan as paths


class Stub:
    """Just what plan_search reads of a tensor, on a device this machine may not have."""

    def __init__(self, n: int, d: int, device: str) -> None:
        self.shape, self.device = (n, d), torch.device(device)
        self.is_cuda = self.device.type == "cuda"

    def __len__(self) -> int:
        return self.shape[0]


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("fast", [True, False])
def test_auto_plan(device: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "fast_bf16", lambda d: fast)
    monkeypatch.setattr(backends, "faiss_has_gpu", lambda: True)
    big, small = Stub(60_000, 512, device), Stub(100, 8, device)
    reduced = "bf16" if fast else "fp32"
    plan = paths.plan_search(big, 60_000, 15, exclude_self=True)
    assert (plan.backend, plan.precision, plan.self_gallery) == ("blocked", reduced, True)
    assert paths.plan_search(small, 100, 15, exclude_self=True).precision == "fp32"
    plan = paths.plan_search(big, 50_000, 15, exclude_self=False)  # query -> gallery
    exact = "faiss" if device == "cpu" else "faiss_gpu"
    assert plan.backend == ("blocked" if fast else exact)
    assert plan.device == device


def test_explicit_choices_and_errors() -> None:
    x = Stub(10, 4, "cpu")
    assert paths.plan_search(x, 10, 3, False, backend="torch").backend == "torch"
    assert paths.plan_search(x, 10, 3, False, "blocked", "bf16").precision == "bf16"
    with pytest.raises(ValueError, match="precision='bf16' needs backend='blocked' or 'auto'"):
        paths.plan_search(x, 10, 3, False, backend="faiss", precision="bf16")
    with pytest.raises(ValueError, match="backend must be one of auto, blocked, faiss"):
        paths.plan_search(x, 10, 3, False, backend="hnsw")
    x_np = torch.randn(20, 4).numpy()
    with pytest.raises(ValueError, match="precision must be one of"):
        retrieval_metrics(x_np, [0, 1] * 10, precision="fp8")


@pytest.mark.slow
def test_training_run_says_which_search_validated(tmp_path) -> None:
    result = run_train(*TINY, "trainer.max_epochs=2", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    log = (tmp_path / "train.log").read_text()  # Hydra's log file of the run (console alike)
    said = [line for line in log.splitlines() if "retrieval metrics: k-NN search" in line]
    assert any("val retrieval metrics: k-NN search blocked self-gallery" in s for s in said)
    assert sum("val retrieval" in s for s in said) == 1  # once per stage, not per epoch
    assert any(" test retrieval metrics: k-NN search blocked" in s for s in said)
