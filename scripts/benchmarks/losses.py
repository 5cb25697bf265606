"""Forward+backward time and peak memory of every loss (and loss+miner) against PML's.

    python scripts/benchmarks/losses.py [--batch-sizes 256 1024] [--dim 512] [--repeats 10]

Same inputs, same process, CPU, fp32: ``embeddings [B, dim]`` ~ N(0, 1) with 4 items per class,
each loss configured as PML's with the same definition (margins, scales, distance; proxies
copied). A miner's time counts with its loss. Time: the best (minimum) of ``--repeats`` runs after
a warm-up, ours and PML's interleaved: on a shared machine the minimum is the run least disturbed
by other processes (the median is printed too). Peak: the rise of the process's peak resident
memory (Linux
``VmHWM``, reset through ``/proc/self/clear_refs`` after ``malloc_trim``) over one run.
Rows marked ``~`` compare with PML's nearest component, not an identical definition.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import math
import statistics
import time
from collections.abc import Callable

import torch
from pytorch_metric_learning import __version__ as pml_version
from pytorch_metric_learning import distances as pd
from pytorch_metric_learning import losses as pl
from pytorch_metric_learning import miners as pm

from metriclab import losses as ml
from metriclab import miners as mm
from metriclab.distances import DotProductSimilarity

logging.getLogger("PML").setLevel(logging.ERROR)
CLASSES = 1000  # proxies / class weights of the proxy and softmax losses


def pml_facenet_triplet():
    return pl.TripletMarginLoss(margin=0.2, distance=pd.LpDistance(power=2))


def with_proxies(ours: torch.nn.Module, theirs: torch.nn.Module) -> tuple:
    if hasattr(theirs, "W"):
        theirs.W.data.copy_(ours.proxies.data.t())
    else:
        theirs.proxies.data.copy_(ours.proxies.data)
    return ours, None, theirs, None


def cases(dim: int) -> dict[str, Callable[[], tuple]]:
    """name -> () -> (our loss, our miner, PML loss, PML miner)."""
    raw_dot = pd.DotProductSimilarity(normalize_embeddings=False)
    return {
        "contrastive": lambda: (ml.ContrastiveLoss(), None, pl.ContrastiveLoss(), None),
        "triplet (all triplets)": lambda: (
            ml.TripletMarginLoss(),
            None,
            pml_facenet_triplet(),
            None,
        ),
        "npair": lambda: (
            ml.NPairLoss(l2_reg_weight=0.0),
            None,
            pl.NPairsLoss(distance=raw_dot),
            None,
        ),
        "multisim": lambda: (ml.MultiSimilarityLoss(), None, pl.MultiSimilarityLoss(), None),
        "circle": lambda: (ml.CircleLoss(), None, pl.CircleLoss(), None),
        "proxy_nca": lambda: with_proxies(
            ml.ProxyNCALoss(CLASSES, dim, exclude_positive=False), pl.ProxyNCALoss(CLASSES, dim)
        ),
        "proxy_anchor": lambda: with_proxies(
            ml.ProxyAnchorLoss(CLASSES, dim), pl.ProxyAnchorLoss(CLASSES, dim)
        ),
        "arcface": lambda: with_proxies(
            ml.ArcFaceLoss(CLASSES, dim), pl.ArcFaceLoss(CLASSES, dim, margin=math.degrees(0.5))
        ),
        "cosface": lambda: with_proxies(ml.CosFaceLoss(CLASSES, dim), pl.CosFaceLoss(CLASSES, dim)),
        "normsoftmax": lambda: with_proxies(
            ml.NormSoftmaxLoss(CLASSES, dim),
            pl.NormalizedSoftmaxLoss(CLASSES, dim, distance=pd.CosineSimilarity()),
        ),
        "triplet + batch_hard": lambda: (
            ml.TripletMarginLoss(),
            mm.BatchHardMiner(),
            pml_facenet_triplet(),
            pm.BatchHardMiner(),
        ),
        "multisim + multisim": lambda: (
            ml.MultiSimilarityLoss(),
            mm.MultiSimilarityMiner(),
            pl.MultiSimilarityLoss(),
            pm.MultiSimilarityMiner(),
        ),
        "contrastive + pair_margin": lambda: (
            ml.ContrastiveLoss(),
            mm.PairMarginMiner(),
            pl.ContrastiveLoss(),
            pm.PairMarginMiner(),
        ),
        "circle + multisim": lambda: (
            ml.CircleLoss(),
            mm.MultiSimilarityMiner(),
            pl.CircleLoss(),
            pm.MultiSimilarityMiner(),
        ),
        "npair + batch_hard": lambda: (
            ml.NPairLoss(l2_reg_weight=0.0, distance=DotProductSimilarity()),
            mm.BatchHardMiner(),
            pl.NPairsLoss(distance=raw_dot),
            pm.BatchHardMiner(),
        ),
        "~ triplet + semihard": lambda: (
            ml.TripletMarginLoss(),
            mm.SemiHardMiner(),
            pml_facenet_triplet(),
            pm.TripletMarginMiner(0.2, "semihard", distance=pd.LpDistance(power=2)),
        ),
        "~ triplet + distance_weighted": lambda: (
            ml.TripletMarginLoss(),
            mm.DistanceWeightedMiner(),
            pml_facenet_triplet(),
            pm.DistanceWeightedMiner(),
        ),
        "xbm(contrastive), memory 4B": lambda: (
            "xbm",
            ml.ContrastiveLoss,
            "xbm",
            pl.ContrastiveLoss,
        ),
    }


def build(case: tuple, dim: int, batch: int) -> tuple:
    if case[0] == "xbm":  # wrappers need the sizes
        return (
            ml.CrossBatchMemory(case[1](), dim, memory_size=4 * batch),
            None,
            pl.CrossBatchMemory(case[3](), dim, memory_size=4 * batch),
            None,
        )
    return case


def step(loss, miner, x: torch.Tensor, y: torch.Tensor) -> float:
    """One forward+backward (miner included); seconds."""
    x = x.clone().requires_grad_(True)
    start = time.perf_counter()
    indices = None if miner is None else miner(x, y)
    value = loss(x, y) if indices is None else loss(x, y, indices)
    value.backward()
    return time.perf_counter() - start


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def peak_bytes(loss, miner, x, y) -> float:
    """Rise of the peak resident memory over one step (NaN where procfs cannot say)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        start = _status("VmRSS")
    except OSError:
        return math.nan
    step(loss, miner, x, y)
    return float(_status("VmHWM") - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--only", nargs="*", help="substrings of the case names to run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    versions = f"torch {torch.__version__}, pytorch-metric-learning {pml_version}"
    setting = f"{torch.get_num_threads()} threads, dim {args.dim}, fp32, CPU"
    print(f"{versions}, {setting}, best of {args.repeats}")
    header = (
        "| case | B | ours ms | PML ms | speed-up | ours / PML median ms "
        "| ours peak MiB | PML peak MiB |"
    )
    print(header + "\n|" + "---|" * 8)
    speedups: dict[int, list[float]] = {b: [] for b in args.batch_sizes}
    for batch in args.batch_sizes:
        x = torch.randn(batch, args.dim)
        y = (torch.arange(batch) // 4)[torch.randperm(batch)]
        for name, make in cases(args.dim).items():
            if args.only and not any(s in name for s in args.only):
                continue
            ours, ours_miner, theirs, theirs_miner = build(make(), args.dim, batch)
            step(ours, ours_miner, x, y)  # warm-up
            step(theirs, theirs_miner, x, y)
            mem = [peak_bytes(ours, ours_miner, x, y), peak_bytes(theirs, theirs_miner, x, y)]
            times: list[list[float]] = [[], []]
            for _ in range(args.repeats):
                times[0].append(step(ours, ours_miner, x, y))
                times[1].append(step(theirs, theirs_miner, x, y))
            ms = [1000 * min(t) for t in times]
            med = [1000 * statistics.median(t) for t in times]
            speedups[batch].append(ms[1] / ms[0])
            print(
                f"| {name} | {batch} | {ms[0]:.1f} | {ms[1]:.1f} | {ms[1] / ms[0]:.2f}x | "
                f"{med[0]:.1f} / {med[1]:.1f} | {mem[0] / 2**20:.0f} | {mem[1] / 2**20:.0f} |",
                flush=True,
            )
    for batch, values in speedups.items():
        if values:
            geomean = math.exp(sum(map(math.log, values)) / len(values))
            print(
                f"\nB={batch}: geometric-mean speed-up {geomean:.2f}x, "
                f"slowest {min(values):.2f}x over {len(values)} cases"
            )


if __name__ == "__main__":
    main()
