"""``loss=normsoftmax`` against pytorch-metric-learning (class weights copied).

Embeddings are normalised too (the paper's cosine softmax); PML's default distance is a dot
product, so PML gets ``CosineSimilarity``.
"""

from __future__ import annotations

import pytest
from loss_oracle import (
    BATCH_SIZES,
    CLASSES,
    DIM,
    assert_same,
    check_proxies,
    copy_class_weights,
    random_batch,
)

from metriclab.losses import NormSoftmaxLoss

pml_losses = pytest.importorskip("pytorch_metric_learning.losses")
pml_distances = pytest.importorskip("pytorch_metric_learning.distances")


@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_normsoftmax_equals_pml_with_cosine(batch):
    x, y = random_batch(batch, dim=DIM, seed=2)
    ours = NormSoftmaxLoss(CLASSES, DIM)
    theirs = pml_losses.NormalizedSoftmaxLoss(
        CLASSES, DIM, distance=pml_distances.CosineSimilarity()
    )
    assert_same(ours, copy_class_weights(ours, theirs), x, y, transpose_params=True)


def test_class_weights_are_proxies_and_refuse_miners():
    check_proxies(NormSoftmaxLoss, "miner=none", "embedding_size", lr_multiplier=3.0)
