"""NPairLoss against a loop-by-loop implementation of Sohn's formula, and against PML.

PML's ``NPairsLoss`` defaults to a dot product of *normalised* embeddings and has no L2 penalty;
Sohn's loss uses the raw inner product plus the penalty (our default). PML is checked with a raw
dot product and ``l2_reg_weight=0``, and with its normalised default against ours so configured.
"""

from __future__ import annotations

import math

import pytest
import torch
from loss_oracle import BATCH_SIZES, assert_close, assert_same, loss_and_grads, random_batch

from metriclab.distances import DotProductSimilarity
from metriclab.losses import NPairLoss
from metriclab.miners import BatchHardMiner

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


def sohn_loop(x: torch.Tensor, y: torch.Tensor, reg: float) -> torch.Tensor:
    """Sohn 2016, term by term: first two items of each class as (anchor, positive)."""
    pairs = {}
    for i, label in enumerate(y.tolist()):
        pairs.setdefault(label, []).append(i)
    pairs = [(v[0], v[1]) for v in pairs.values() if len(v) >= 2]
    total = 0.0
    for i, (a, p) in enumerate(pairs):
        inner = 0.0
        for j, (_, p_j) in enumerate(pairs):
            if j != i:
                inner = inner + torch.exp(x[a] @ x[p_j] - x[a] @ x[p])
        total = total + torch.log(1 + inner)
    n = len(pairs)
    norms = sum(x[a] @ x[a] + x[p] @ x[p] for a, p in pairs) / n
    return total / n + reg * 0.25 * norms


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_equals_the_loop_reference(batch):
    x, y = random_batch(batch, dim=16)
    x = x * 0.3  # keep exp() moderate for the naive loop
    ours = loss_and_grads(NPairLoss(), x, y)
    xr = x.clone().requires_grad_(True)
    ref = sohn_loop(xr, y, 0.002)
    ref.backward()
    assert_close(ours[0], ref.detach(), "value")
    assert_close(ours[1], xr.grad, "gradient")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_equals_pml_configured_identically(batch):
    x, y = random_batch(batch, seed=1)
    raw = pml_losses.NPairsLoss(
        distance=pml_distances.DotProductSimilarity(normalize_embeddings=False)
    )
    assert_same(NPairLoss(l2_reg_weight=0.0), raw, x, y)
    normalised = NPairLoss(l2_reg_weight=0.0, distance=DotProductSimilarity(True))
    assert_same(normalised, pml_losses.NPairsLoss(), x, y)


def test_mined_pairs_equal_pml():
    x, y = random_batch(64, seed=2)
    indices = BatchHardMiner()(x, y)
    raw = pml_losses.NPairsLoss(
        distance=pml_distances.DotProductSimilarity(normalize_embeddings=False)
    )
    assert_same(NPairLoss(l2_reg_weight=0.0), raw, x, y, indices)


def test_penalty_is_added():
    x, y = random_batch(32, seed=3)
    plain = NPairLoss(l2_reg_weight=0.0)(x, y)
    penalised = NPairLoss(l2_reg_weight=1.0)(x, y)
    anchors, positives = NPairLoss.class_pairs(y, None)
    expected = 0.25 * (x[anchors].pow(2).sum(1).mean() + x[positives].pow(2).sum(1).mean())
    assert (penalised - plain).item() == pytest.approx(expected.item(), rel=1e-5)
    assert not math.isclose(plain.item(), penalised.item())


def test_loss_npair_trains_on_raw_embeddings_so_the_penalty_acts(make_cfg):
    """``loss=npair`` is Sohn's loss end to end: the head leaves the embeddings unnormalised
    (``head.normalize=null`` follows the loss), so the L2 penalty is not a constant; the user's
    explicit ``head.normalize=true`` is kept."""
    from metriclab.build import build_model

    torch.manual_seed(0)
    images = torch.randn(6, 1, 8, 8)  # digits
    raw = build_model(make_cfg("loss=npair", "data=digits")).eval()
    norms = raw(images).norm(dim=1)
    assert not torch.allclose(norms, torch.ones_like(norms), atol=1e-3)
    assert NPairLoss().normalized_embeddings is False
    for overrides in (["loss=circle"], ["loss=npair", "head.normalize=true"]):
        model = build_model(make_cfg(*overrides, "data=digits")).eval()
        norms = model(images).norm(dim=1)
        torch.testing.assert_close(norms, torch.ones_like(norms))
