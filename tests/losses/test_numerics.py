"""Every loss: fp32 inside under bf16/fp16, zero-but-differentiable on empty tuples, no NaN."""

from __future__ import annotations

import pytest
import torch
from loss_oracle import random_batch

from metriclab import losses

C, D = 8, 16
BUILDERS = {
    "contrastive": lambda: losses.ContrastiveLoss(),
    "triplet": lambda: losses.TripletMarginLoss(),
    "npair": lambda: losses.NPairLoss(),
    "multisim": lambda: losses.MultiSimilarityLoss(),
    "circle": lambda: losses.CircleLoss(),
    "proxy_nca": lambda: losses.ProxyNCALoss(C, D),
    "proxy_anchor": lambda: losses.ProxyAnchorLoss(C, D),
    "arcface": lambda: losses.ArcFaceLoss(C, D),
    "cosface": lambda: losses.CosFaceLoss(C, D),
    "normsoftmax": lambda: losses.NormSoftmaxLoss(C, D),
    "joint_ce": lambda: losses.JointCrossEntropyLoss(losses.CircleLoss(), C, D),
    "xbm": lambda: losses.CrossBatchMemory(losses.MultiSimilarityLoss(), D, memory_size=64),
}
MINED = [n for n, b in BUILDERS.items() if getattr(b(), "accepts_miner", True)]


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_autocast_gives_finite_fp32(name, dtype):
    loss = BUILDERS[name]()
    x, y = random_batch(32, dim=D)
    x = (x * 10).to(dtype).requires_grad_(True)  # large norms stress exp() in low precision
    with torch.autocast("cpu", dtype=dtype):
        assert (x @ x.t()).dtype == dtype  # autocast is on: outside the loss, matmuls are low
        value = loss(x, y)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    value.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()
    if name != "xbm":  # (the memory changed with the first call)
        reference = BUILDERS[name]()
        reference.load_state_dict(loss.state_dict())
        expected = reference(x.detach().float(), y)
        assert value.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("name", MINED)
@pytest.mark.parametrize("kind", [3, 4])
def test_empty_tuples_give_a_zero_that_backpropagates(name, kind):
    loss = BUILDERS[name]()
    x, y = random_batch(16, dim=D)
    x.requires_grad_(True)
    empty = tuple(torch.empty(0, dtype=torch.long) for _ in range(kind))
    value = loss(x, y, empty)
    if name == "joint_ce":  # the cross-entropy term remains
        assert value.item() > 0
    else:
        assert value.item() == 0.0
    value.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_single_class_batch_is_finite(name):
    loss = BUILDERS[name]()
    x, _ = random_batch(16, dim=D)
    x.requires_grad_(True)
    y = torch.full((16,), 3)
    value = loss(x, y)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
    if name in ("triplet", "circle"):
        assert value.item() == 0.0  # no negative: nothing to compare


@pytest.mark.parametrize("name", ["contrastive", "triplet", "multisim", "circle"])
def test_duplicate_embeddings_do_not_produce_nan(name):
    loss = BUILDERS[name]()
    x = torch.ones(8, D, requires_grad=True)
    loss(x, torch.arange(8) % 2).backward()
    assert torch.isfinite(x.grad).all()
