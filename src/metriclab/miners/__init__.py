"""Miners: ``miner(embeddings [B, D], labels [B]) -> (a, p, n) or (a1, p, a2, n)``."""

from metriclab.miners.base import BaseMiner
from metriclab.miners.batch_hard import BatchHardMiner
from metriclab.miners.distance_weighted import DistanceWeightedMiner
from metriclab.miners.multi_similarity import MultiSimilarityMiner
from metriclab.miners.pair_margin import PairMarginMiner
from metriclab.miners.semihard import SemiHardMiner

__all__ = [
    "BaseMiner",
    "BatchHardMiner",
    "DistanceWeightedMiner",
    "MultiSimilarityMiner",
    "PairMarginMiner",
    "SemiHardMiner",
]
