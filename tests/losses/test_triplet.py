"""TripletMarginLoss against pytorch-metric-learning, and its O(B^2) memory bound.

Our default is FaceNet's (squared Euclidean on normalised embeddings, margin 0.2); PML defaults to
Euclidean with margin 0.05. Both are checked, each with PML configured identically.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from loss_oracle import BATCH_SIZES, assert_close, assert_same, loss_and_grads, random_batch

from metriclab import tuples
from metriclab.distances import CosineSimilarity, EuclideanDistance
from metriclab.losses import TripletMarginLoss
from metriclab.miners import BatchHardMiner, MultiSimilarityMiner, SemiHardMiner

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


def pml_facenet():
    return pml_losses.TripletMarginLoss(margin=0.2, distance=pml_distances.LpDistance(power=2))


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_all_triplets_equal_pml(batch):
    x, y = random_batch(batch)
    assert_same(TripletMarginLoss(), pml_facenet(), x, y)
    ours = TripletMarginLoss(margin=0.05, distance=EuclideanDistance())
    assert_same(ours, pml_losses.TripletMarginLoss(), x, y)  # PML's own defaults


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_few_classes_and_cosine_equal_pml(batch):
    x, y = random_batch(batch, per_class=batch // 4, seed=3)  # 4 classes: many triplets
    ours = TripletMarginLoss(margin=0.3, distance=CosineSimilarity())
    theirs = pml_losses.TripletMarginLoss(margin=0.3, distance=pml_distances.CosineSimilarity())
    assert_same(ours, theirs, x, y)


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("miner", [BatchHardMiner, SemiHardMiner, MultiSimilarityMiner])
def test_mined_triplets_and_pairs_equal_pml(batch, miner):
    x, y = random_batch(batch, seed=4)
    indices = miner()(x, y)
    assert len(indices[0]) > 0
    assert_same(TripletMarginLoss(), pml_facenet(), x, y, indices)


def test_pairs_count_as_every_shared_anchor_triplet():
    x, y = random_batch(32, seed=5)
    pairs = MultiSimilarityMiner(epsilon=0.5)(x, y)
    explicit = tuples.pairs_to_triplets(*pairs)
    loss = TripletMarginLoss()
    via_pairs = loss_and_grads(loss, x, y, pairs)
    via_triplets = loss_and_grads(loss, x, y, explicit)
    assert_close(via_pairs[0], via_triplets[0], "value")
    assert_close(via_pairs[1], via_triplets[1], "gradient")


def test_loop_reference_with_duplicate_pairs():
    x, y = random_batch(16, seed=6)
    pairs = tuples.to_pairs(MultiSimilarityMiner(epsilon=1.0)(x, y))
    pairs = tuple(torch.cat([t, t[: len(t) // 2]]) for t in pairs)  # some pairs twice
    dist = EuclideanDistance(squared=True)(x)
    active = []
    for a, p in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        for a2, n in zip(pairs[2].tolist(), pairs[3].tolist(), strict=True):
            v = float(dist[a, p] - dist[a2, n] + 0.2)
            if a2 == a and v > 0:
                active.append(v)
    value = TripletMarginLoss()(x, y, pairs)
    assert value.item() == pytest.approx(sum(active) / len(active), rel=1e-5)


MEMORY_PROBE = """
import ctypes, sys, torch
from metriclab.losses import TripletMarginLoss

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

gen = torch.Generator().manual_seed(7)
x = torch.randn(1024, 512, generator=gen).requires_grad_(True)
y = (torch.arange(1024) % 10)[torch.randperm(1024, generator=gen)]  # 10 classes: ~95M triplets
TripletMarginLoss()(x[:8], y[:8]).backward()  # warm-up: lazy initialisation is not the loss's
x.grad = None
ctypes.CDLL("libc.so.6").malloc_trim(0)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM (the peak resident set) to the current VmRSS
start = status("VmRSS")
TripletMarginLoss()(x, y).backward()
assert torch.isfinite(x.grad).all() and x.grad.abs().max() > 0
print(status("VmHWM") - start)
"""


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux procfs")
def test_all_triplets_at_batch_1024_under_1gb():
    """Peak resident memory of forward+backward over all ~95M valid triplets, in a fresh process.

    The explicit triplet list alone would take 95M x 3 x 8 B = 2.3 GB; the loss stays O(B^2).
    """
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, timeout=300
    )
    assert probe.returncode == 0, probe.stderr
    peak = int(probe.stdout.split()[-1])
    assert 0 < peak < 1 << 30, f"peak {peak / 2**20:.0f} MiB"
