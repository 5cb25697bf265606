"""Distance-weighted sampling (Wu, Manmatha, Smola & Kraehenbuehl, ICCV 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from metriclab.distances import EuclideanDistance
from metriclab.losses.ranges import check_range
from metriclab.miners.base import BaseMiner
from metriclab.tuples import all_pairs_masks


class DistanceWeightedMiner(BaseMiner):
    """For every positive pair, one negative sampled with probability ``~ 1 / q(d)``.

    On the unit sphere in ``n`` dimensions, pairwise distances follow
    ``q(d) ~ d^(n-2) (1 - d^2/4)^((n-3)/2)``; sampling negatives with weight ``1/q(d)`` (with
    ``d`` clamped to ``>= cutoff``) spreads them over all distances. Negatives at
    ``d >= nonzero_loss_cutoff`` (zero margin-loss) get weight 0. Returns triplets
    ``(a, p, n)``, one per positive pair of an anchor with some eligible negative. Sampling is
    by inverse CDF, ``O(B^2)``, from the miner's own generator (``seed``; the config passes the
    run's ``seed``). The generator's state is the module's extra state, so it is saved in
    checkpoints and a resumed run draws what the uninterrupted run drew.

    Args:
        cutoff: the paper's lower distance clamp 0.5.
        nonzero_loss_cutoff: the paper's upper cutoff 1.4.
        seed: seed of the miner's random generator (no global random state).
    """

    def __init__(
        self, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4, seed: int = 0
    ) -> None:
        super().__init__(EuclideanDistance(normalize_embeddings=True, squared=False))
        paper = "Wu et al. 2017 use 0.5 and 1.4; unit-sphere distances lie in [0, 2]"
        self.cutoff = check_range(
            "miner.cutoff",
            cutoff,
            "the distance-weighted lower distance clamp",
            0.5,
            low=0.0,
            high=2.0,
            high_open=True,
            note=paper,
        )
        self.nonzero_loss_cutoff = check_range(
            "miner.nonzero_loss_cutoff",
            nonzero_loss_cutoff,
            f"the distance beyond which negatives are never sampled (above miner.cutoff="
            f"{self.cutoff:g}, else no negative is ever eligible)",
            1.4,
            low=self.cutoff,
            low_open=True,
            note=paper,
        )
        self.generator = torch.Generator().manual_seed(seed)

    def get_extra_state(self) -> torch.Tensor:
        """The generator's state, ``uint8 [S]`` (in the ``state_dict``, so in checkpoints)."""
        return self.generator.get_state()

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state.cpu())

    def log_weights(self, dist: Tensor, dim: int) -> Tensor:
        """``log(1 / q(d))`` of each entry of ``dist`` (``-inf`` where ``q`` is undefined)."""
        d = dist.clamp_min(self.cutoff)
        log_q = (dim - 2.0) * torch.log(d) + (dim - 3.0) / 2.0 * torch.log(1.0 - 0.25 * d * d)
        return torch.nan_to_num(-log_q, nan=-torch.inf, posinf=-torch.inf)

    def sampling_weights(self, dist: Tensor, labels: Tensor, dim: int) -> Tensor:
        """Unnormalised ``[B, B]`` sampling weights of each anchor's negatives (0 elsewhere)."""
        _, neg = all_pairs_masks(labels)
        eligible = neg & (dist < self.nonzero_loss_cutoff)
        log_w = self.log_weights(dist, dim).masked_fill(~eligible, -torch.inf)
        shift = log_w.amax(dim=1, keepdim=True)  # per anchor, for stability
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
        return torch.exp(log_w - shift)

    @torch.no_grad()
    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        dist, labels = self.distance_matrix(embeddings, labels)
        weights = self.sampling_weights(dist, labels, embeddings.shape[1])
        cdf = weights.cumsum(dim=1)
        total = cdf[:, -1:]
        pos, _ = all_pairs_masks(labels)
        u = torch.rand(dist.shape, generator=self.generator).to(dist.device) * total
        n = torch.searchsorted(cdf, u, right=True).clamp_max(dist.shape[1] - 1)
        a, p = torch.nonzero(pos & (total > 0), as_tuple=True)
        n = n[a, p]
        ok = weights[a, n] > 0  # guards the rare u == total rounding
        return a[ok], p[ok], n[ok]
