"""Miners: ``miner(embeddings [B, D], labels [B]) -> (a, p, n) or (a1, p, a2, n)``.

One name end to end: ``miner=<name>`` is ``configs/miner/<name>.yaml`` -> a :class:`BaseMiner`
subclass in ``src/metriclab/miners/<name>.py`` -> ``tests/miners/test_<name>.py``; a new miner
goes there and is exported below.
"""

from metriclab.miners.base import BaseMiner
from metriclab.miners.batch_hard import BatchHardMiner
from metriclab.miners.distance_weighted import DistanceWeightedMiner
from metriclab.miners.multisim import MultiSimilarityMiner
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
