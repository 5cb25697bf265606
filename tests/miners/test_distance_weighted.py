"""DistanceWeightedMiner: the paper's weights, one valid triplet per positive pair, sampling law."""

from __future__ import annotations

import math

import torch

from metriclab.distances import EuclideanDistance
from metriclab.miners import DistanceWeightedMiner
from miners.miner_oracle import random_batch


def test_log_weights_are_the_inverse_sphere_density():
    miner = DistanceWeightedMiner(cutoff=0.5)
    d = torch.tensor([0.2, 0.5, 1.0, 1.9])
    n = 32
    clamped = d.clamp_min(0.5)
    q = clamped ** (n - 2) * (1 - clamped**2 / 4) ** ((n - 3) / 2)
    torch.testing.assert_close(miner.log_weights(d, n), -torch.log(q), rtol=1e-5, atol=1e-5)


def test_one_valid_triplet_per_positive_pair_and_seeded():
    x, y = random_batch(64, dim=8)
    a, p, n = DistanceWeightedMiner()(x, y)
    assert len(a) == int(sum(((y == c).sum() * ((y == c).sum() - 1)).item() for c in y.unique()))
    assert (y[a] == y[p]).all() and (a != p).all() and (y[a] != y[n]).all()
    dist = EuclideanDistance()(x)
    assert (dist[a, n] < 1.4).all()
    again = DistanceWeightedMiner(seed=0)(x, y)
    assert torch.equal(again[2], n)
    assert not torch.equal(DistanceWeightedMiner(seed=1)(x, y)[2], n)


def test_sampling_frequencies_follow_the_weights():
    x, y = random_batch(8, dim=4, per_class=2, seed=3)
    miner = DistanceWeightedMiner(cutoff=0.3, nonzero_loss_cutoff=2.0)
    dist = EuclideanDistance()(x)
    weights = miner.sampling_weights(dist, y, 4)
    expected = weights[0] / weights[0].sum()
    counts = torch.zeros(8)
    draws = 0
    for _ in range(600):
        a, _, n = miner(x, y)
        counts += torch.bincount(n[a == 0], minlength=8).float()
        draws += int((a == 0).sum())
    observed = counts / draws
    assert expected[y == y[0]].sum() == 0  # never a same-class negative
    sigma = torch.sqrt(expected * (1 - expected) / draws)
    assert ((observed - expected).abs() <= 5 * sigma + 1e-9).all(), (observed, expected)
    assert math.isclose(float(observed.sum()), 1.0, rel_tol=1e-6)


def test_the_run_seed_and_the_checkpointed_generator_decide_the_draws(make_cfg, tmp_path):
    """``miner=distance_weighted`` draws from the run's ``seed``, and its generator is saved in
    checkpoints: a resumed run's draws equal the uninterrupted run's."""
    from hydra.utils import instantiate

    x, y = random_batch(64, dim=8)
    seeded = [instantiate(make_cfg("miner=distance_weighted", f"seed={s}").miner) for s in (1, 2)]
    assert seeded[0].generator.initial_seed() == 1 and seeded[1].generator.initial_seed() == 2
    first, second = (m(x, y)[2] for m in seeded)
    assert not torch.equal(first, second)

    miner = DistanceWeightedMiner(seed=5)
    miner(x, y)  # one draw, as in a first epoch
    path = tmp_path / "state.pt"
    torch.save(miner.state_dict(), path)
    uninterrupted = miner(x, y)[2]
    resumed = DistanceWeightedMiner(seed=5)
    resumed.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(resumed(x, y)[2], uninterrupted)
