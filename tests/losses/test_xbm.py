"""CrossBatchMemory against pytorch-metric-learning's, over several steps, for each pair loss."""

from __future__ import annotations

import pytest
import torch
from loss_oracle import BATCH_SIZES, assert_same, random_batch

from metriclab.losses import (
    CircleLoss,
    ContrastiveLoss,
    CrossBatchMemory,
    MultiSimilarityLoss,
    NPairLoss,
    ProxyAnchorLoss,
    TripletMarginLoss,
)

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

PAIRS = {
    "contrastive": (ContrastiveLoss, lambda: pml_losses.ContrastiveLoss()),
    "triplet": (
        TripletMarginLoss,
        lambda: pml_losses.TripletMarginLoss(
            margin=0.2, distance=pml_distances.LpDistance(power=2)
        ),
    ),
    "multisim": (MultiSimilarityLoss, lambda: pml_losses.MultiSimilarityLoss()),
    "circle": (CircleLoss, lambda: pml_losses.CircleLoss()),
}


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_equals_pml_across_steps_and_wraparound(name, batch):
    ours_cls, theirs_fn = PAIRS[name]
    memory = batch * 5 // 2
    ours = CrossBatchMemory(ours_cls(), embedding_size=32, memory_size=memory)
    theirs = pml_losses.CrossBatchMemory(theirs_fn(), embedding_size=32, memory_size=memory)
    for step in range(4):  # 4 batches > 2.5 batches: the queue fills and wraps around
        x, y = random_batch(batch, dim=32, seed=step)
        assert_same(ours, theirs, x, y)
    assert bool(ours.filled) and int(ours.queue_index) == (4 * batch) % memory


def test_memory_is_checkpointed_and_restored():
    xbm = CrossBatchMemory(ContrastiveLoss(), embedding_size=8, memory_size=20)
    x, y = random_batch(12, dim=8)
    xbm(x, y)
    state = xbm.state_dict()
    assert {"embedding_memory", "label_memory", "queue_index", "filled"} <= set(state)
    fresh = CrossBatchMemory(ContrastiveLoss(), embedding_size=8, memory_size=20)
    fresh.load_state_dict(state)
    x2, y2 = random_batch(12, dim=8, seed=1)
    assert torch.equal(fresh(x2, y2), xbm(x2, y2))


def test_completes_a_factory_and_refuses_what_it_cannot_wrap():
    xbm = CrossBatchMemory(lambda embedding_size: ContrastiveLoss(), embedding_size=4)
    assert isinstance(xbm.metric, ContrastiveLoss)
    with pytest.raises(ValueError, match="pair-based"):
        CrossBatchMemory(ProxyAnchorLoss(3, 4), embedding_size=4)
    with pytest.raises(ValueError, match="pair-based"):
        CrossBatchMemory(NPairLoss(), embedding_size=4)
    xbm = CrossBatchMemory(ContrastiveLoss(), embedding_size=4, memory_size=8)
    with pytest.raises(ValueError, match="memory_size"):
        xbm(torch.randn(9, 4), torch.arange(9))
    with pytest.raises(ValueError, match="miner"):
        xbm(torch.randn(4, 4), torch.arange(4), (torch.tensor([0]),) * 3)
