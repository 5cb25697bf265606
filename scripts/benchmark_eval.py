"""Benchmark ``retrieval_metrics`` against a bare exact FAISS search of the same data.

Data: SOP-test-like embeddings, ``N x D`` float32, classes of 2-12 items (mean 5.3, about
11,316 classes at N = 60,000), each item its class centre plus Gaussian noise.

For each size it reports, per method:
* time: wall-clock seconds of the call (data generation and imports excluded). For the first
  size, the bare search and ``retrieval_metrics`` alternate in one process (``--repeats`` rounds,
  best kept) and the ratio compares those; for the others each method runs once in its own
  process and the ratio compares those runs.
* cpu: user + system CPU seconds of the process during the call (all threads), a check on the
  wall time when the machine is shared;
* peak RSS: ``ru_maxrss`` of a fresh subprocess that builds the data and runs only that method
  (so it includes the interpreter, torch + faiss, and the input array); ``before`` is the RSS
  just before the call.

The bare search is ``faiss.IndexFlatIP`` (``add`` + ``search``) on pre-normalised data with the
same ``k`` that ``retrieval_metrics`` searches: ``max(max(ks), max R) + 1`` (self) ``+ 1`` (tie
check). ``--pml`` adds pytorch-metric-learning's AccuracyCalculator (k="max_bin_count", FAISS IP)
at the first size.

    python scripts/benchmark_eval.py [--repeats 2] [--pml] [--quick] [--sizes 60000x512,...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

KS = (1, 2, 4, 8)


def sop_like(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``[n, d]`` float32 embeddings and ``[n]`` labels, class sizes in 2..12 (mean ~5.3)."""
    rng = np.random.default_rng(seed)
    sizes = 2 + rng.binomial(10, 0.33, size=int(n / 5.3))
    while (diff := n - int(sizes.sum())) != 0:  # nudge the sizes to sum to n, within 2..12
        room = np.flatnonzero(sizes < 12) if diff > 0 else np.flatnonzero(sizes > 2)
        pick = rng.choice(room, size=min(abs(diff), len(room)), replace=False)
        sizes[pick] += np.sign(diff)
    labels = rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    centres = rng.standard_normal((len(sizes), d), dtype=np.float32)
    x = 2.0 * rng.standard_normal((n, d), dtype=np.float32)
    x += centres[labels]
    return x, labels


def search_k(labels: np.ndarray) -> int:
    counts = np.bincount(labels)
    return max(max(KS), int(counts.max()) - 1) + 2


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(methods: list[str], n: int, d: int, repeats: int) -> dict:
    import faiss
    import torch

    from metriclab.evaluation import retrieval_metrics

    x, y = sop_like(n, d)
    k = search_k(y)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True) if "bare" in methods else None

    def bare() -> None:
        index = faiss.IndexFlatIP(d)
        index.add(xn)
        index.search(xn, k)

    def pml() -> dict:
        from pytorch_metric_learning.utils import accuracy_calculator, inference

        calc = accuracy_calculator.AccuracyCalculator(
            include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
            k="max_bin_count",
            knn_func=inference.FaissKNN(index_init_fn=faiss.IndexFlatIP),
        )
        return calc.get_accuracy(torch.nn.functional.normalize(torch.from_numpy(x)), y)

    calls = {"bare": bare, "ours": lambda: retrieval_metrics(x, y, ks=KS), "pml": pml}
    out = {"k": k, "classes": int(len(np.unique(y))), "rss_before_mb": rss_mb(), "time_s": {}}
    out["cpu_s"] = {}
    for _ in range(repeats):
        for method in methods:
            cpu, start = cpu_s(), time.perf_counter()
            result = calls[method]()
            elapsed, cpu = time.perf_counter() - start, cpu_s() - cpu
            if elapsed <= out["time_s"].get(method, elapsed):
                out["time_s"][method], out["cpu_s"][method] = elapsed, cpu
            if isinstance(result, dict):
                out[f"{method}_metrics"] = {key: round(v, 4) for key, v in result.items()}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def spawn(methods: list[str], n: int, d: int, repeats: int = 1) -> dict:
    cmd = [sys.executable, __file__, "--worker", ",".join(methods), str(n), str(d), str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="rounds of the same-process timing")
    parser.add_argument("--pml", action="store_true", help="also time PML's AccuracyCalculator")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--sizes", default="60000x512,200000x128", help="N x D, comma-separated")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        methods, n, d, repeats = args.worker
        print(json.dumps(worker(methods.split(","), int(n), int(d), int(repeats))))
        return

    import faiss

    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    if args.quick:
        sizes = [(6_000, 128), (20_000, 64)]
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, {load()}")
    print(
        "| data | k | method | time (s) | ratio | cpu (s) | peak RSS (MB) | RSS before call (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for i, (n, d) in enumerate(sizes):
        timing = spawn(["bare", "ours"], n, d, args.repeats) if i == 0 else None
        methods = ["bare", "ours"] + (["pml"] if args.pml and i == 0 else [])
        runs = {m: spawn([m], n, d) for m in methods}
        times = {m: r["time_s"][m] for m, r in runs.items()}
        cpus = {m: r["cpu_s"][m] for m, r in runs.items()}
        if timing:
            times.update(timing["time_s"])
            cpus.update(timing["cpu_s"])
        for m, r in runs.items():
            ratio = times[m] / times["bare"]
            print(
                f"| {n:,} x {d} ({r['classes']:,} classes) | {r['k']} | {m} | {times[m]:.1f} "
                f"| {ratio:.3f} | {cpus[m]:.1f} | {r['peak_rss_mb']:.0f} "
                f"| {r['rss_before_mb']:.0f} |",
                flush=True,
            )
        print(f"  metrics: {runs['ours']['ours_metrics']}", file=sys.stderr)
        if "pml" in runs:
            print(f"  pml metrics: {runs['pml']['pml_metrics']}", file=sys.stderr)
    print(f"done, {load()}")


if __name__ == "__main__":
    main()
