"""Every pair/triplet loss with every miner against pytorch-metric-learning, value and gradient.

Miners PML implements with the same definition (batch-hard, multi-similarity, pair-margin): our
miner feeds our loss, PML's miner feeds PML's loss, so the whole mined step is compared. Semi-hard
(ours keeps the closest semi-hard negative per positive pair; PML's ``TripletMarginMiner`` keeps
every one) and distance-weighted (random) have no identical PML miner: their tuples feed both
losses. N-pair takes the first mined pair of each class, so it depends on the *order* of the
tuples; PML's multi-similarity miner lists each anchor's positives by similarity, ours by index,
so for that one pairing the PML tuples feed both losses.
"""

from __future__ import annotations

import pytest
from loss_oracle import BATCH_SIZES, assert_same, random_batch

from metriclab import losses, miners
from metriclab.distances import EuclideanDistance

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_miners = pytest.importorskip("pytorch_metric_learning.miners")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")

LOSSES = {  # name -> (ours, PML's configured identically)
    "contrastive": (losses.ContrastiveLoss, lambda: pml_losses.ContrastiveLoss()),
    "triplet": (
        losses.TripletMarginLoss,
        lambda: pml_losses.TripletMarginLoss(
            margin=0.2, distance=pml_distances.LpDistance(power=2)
        ),
    ),
    "npair": (
        lambda: losses.NPairLoss(l2_reg_weight=0.0),
        lambda: pml_losses.NPairsLoss(
            distance=pml_distances.DotProductSimilarity(normalize_embeddings=False)
        ),
    ),
    "multisim": (losses.MultiSimilarityLoss, lambda: pml_losses.MultiSimilarityLoss()),
    "circle": (losses.CircleLoss, lambda: pml_losses.CircleLoss()),
}
# pair-margin: margins inside the spread of normalised random 64-d distances (~1.41 +- 0.1), so
# both kinds of pair are mined
SAME_MINERS = {  # name -> (ours, PML's)
    "batch_hard": (miners.BatchHardMiner, lambda: pml_miners.BatchHardMiner()),
    "multisim": (miners.MultiSimilarityMiner, lambda: pml_miners.MultiSimilarityMiner()),
    "pair_margin": (
        lambda: miners.PairMarginMiner(pos_margin=1.3, neg_margin=1.35),
        lambda: pml_miners.PairMarginMiner(pos_margin=1.3, neg_margin=1.35),
    ),
}
OTHER_MINERS = {
    "semihard": lambda: miners.SemiHardMiner(distance=EuclideanDistance(squared=True)),
    "distance_weighted": lambda: miners.DistanceWeightedMiner(seed=3),
}


def assert_nonempty(indices):
    assert len(indices[0]) > 0 and len(indices[-1]) > 0, "nothing mined: the test proves nothing"


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("miner", sorted(SAME_MINERS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_loss_with_a_pml_identical_miner(loss, miner, batch):
    x, y = random_batch(batch, seed=11)
    ours_miner, theirs_miner = SAME_MINERS[miner]
    ours_indices, theirs_indices = ours_miner()(x, y), theirs_miner()(x, y)
    assert_nonempty(ours_indices)
    if loss == "npair" and miner == "multisim":  # order-dependent: same tuples on both sides
        ours_indices = theirs_indices
    ours_loss, theirs_loss = LOSSES[loss]
    mine = assert_same(
        ours_loss(), theirs_loss(), x, y, ours_indices, theirs_indices=theirs_indices
    )
    assert mine > 0


@pytest.mark.parametrize("batch", BATCH_SIZES)
@pytest.mark.parametrize("miner", sorted(OTHER_MINERS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_loss_with_our_other_miners(loss, miner, batch):
    x, y = random_batch(batch, seed=12)
    indices = OTHER_MINERS[miner]()(x, y)
    assert_nonempty(indices)
    ours_loss, theirs_loss = LOSSES[loss]
    assert_same(ours_loss(), theirs_loss(), x, y, indices)
