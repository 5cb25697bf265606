"""The M-per-class and random batch samplers: batch structure, coverage, seeding, DDP shards."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from metriclab.data import MPerClassSampler, RandomBatchSampler
from metriclab.errors import ConfigError


def _labels(classes: int = 10, per_class: int = 12, seed: int = 0) -> np.ndarray:
    labels = np.repeat(np.arange(classes), per_class)
    return np.random.default_rng(seed).permutation(labels)


def test_every_batch_has_p_classes_with_m_each():
    labels = _labels()
    sampler = MPerClassSampler(labels, batch_size=16, m=4, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == len(labels) // 16
    for batch in batches:
        assert len(batch) == 16
        counts = Counter(labels[batch].tolist())
        assert len(counts) == 4 and set(counts.values()) == {4}
        assert len(set(batch)) == 16  # no item twice in a batch (every class has >= m)


def test_epoch_covers_classes_evenly_and_items():
    labels = _labels(classes=10, per_class=8)
    sampler = MPerClassSampler(labels, batch_size=20, m=4, seed=1)  # 4 batches x 5 classes
    seen = Counter()
    items = set()
    for batch in sampler:
        seen.update(set(labels[batch].tolist()))
        items.update(batch)
    assert set(seen) == set(range(10)) and set(seen.values()) == {2}
    assert len(items) == 80  # 80 draws cover all 80 items (each class cycled through once)


def test_seeding_and_epochs():
    labels = _labels()
    a = MPerClassSampler(labels, batch_size=16, m=4, seed=7)
    b = MPerClassSampler(labels, batch_size=16, m=4, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    c = MPerClassSampler(labels, batch_size=16, m=4, seed=8)
    assert list(c) != first


def test_ranks_draw_disjoint_whole_batches_of_one_global_sequence():
    labels = _labels(classes=12, per_class=16)
    single = list(MPerClassSampler(labels, batch_size=24, m=4, seed=5))
    shards = [
        list(MPerClassSampler(labels, 24, m=4, seed=5, num_replicas=2, rank=r)) for r in (0, 1)
    ]
    assert len(shards[0]) == len(shards[1]) == len(single) // 2
    assert shards[0] == single[0::2][: len(shards[0])]
    assert shards[1] == single[1::2][: len(shards[1])]


def test_small_classes_are_sampled_with_replacement(caplog):
    labels = np.array([0] * 10 + [1] * 10 + [2] * 2)
    with caplog.at_level("WARNING"):
        sampler = MPerClassSampler(labels, batch_size=12, m=4, seed=0, batches_per_epoch=20)
    assert "fewer than m=4" in caplog.text
    for batch in sampler:
        counts = Counter(labels[batch].tolist())
        assert set(counts.values()) == {4}


@pytest.mark.parametrize(
    ("batch_size", "m", "message"),
    [(30, 4, "not a multiple of sampler.m=4"), (64, 4, "needs 16 classes but the training")],
)
def test_config_errors(batch_size, m, message):
    with pytest.raises(ConfigError, match=message):
        MPerClassSampler(_labels(), batch_size=batch_size, m=m)


def test_random_batches_are_permutations():
    labels = _labels(classes=5, per_class=10)
    sampler = RandomBatchSampler(labels, batch_size=10, seed=0)
    batches = list(sampler)
    assert len(batches) == 5
    assert sorted(i for b in batches for i in b) == list(range(50))
    with pytest.raises(ConfigError, match="larger than the training split"):
        RandomBatchSampler(labels, batch_size=100)
