"""Benchmark ``retrieval_metrics``' search paths against a bare exact FAISS search of the same data.

Data: SOP-test-like embeddings, ``N x D`` float32, classes of 2-12 items (mean 5.3, about
11,316 classes at N = 60,000), each item its class centre plus Gaussian noise. ``--qg``: the
first half are the queries, the second half the gallery (In-Shop's query -> gallery mode).

Methods (one row each):
* ``bare``: ``faiss.IndexFlatIP`` ``add`` + ``search`` on pre-normalised data with the ``k`` that
  ``retrieval_metrics`` needs (``max(max(ks), max R) + 1`` (self) ``+ 1`` (tie check));
* ``ours``: ``retrieval_metrics`` as a user calls it (``backend="auto"``: the path it picks is
  printed);
* ``blocked-fp32``: ``backend="blocked", precision="fp32"`` (the self-gallery triangle alone);
* ``reference``: ``backend="faiss"``, the float32 chunk search, the path the others must equal;
* ``pml``: pytorch-metric-learning's AccuracyCalculator (k="max_bin_count", FAISS IP; ``--pml``).

Each method runs in a fresh subprocess that builds the data and runs only that method:
* time: wall-clock seconds of the call (best of ``--repeats``); ratio = time / bare's time;
* cpu: user + system CPU seconds of the process during the call (all threads);
* peak RSS: the process's ``ru_maxrss`` (interpreter, torch + faiss, and the input included);
* neighbours: a hash of every neighbour list ``retrieval_metrics`` ranked (captured as it
  runs); ``same`` where it equals the reference row's, and the largest metric difference.

    python scripts/benchmarks/evaluation.py [--repeats 1] [--pml] [--qg] [--sizes 60000x512,...]
        [--methods bare,ours,blocked-fp32,reference]
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


def worker(method: str, n: int, d: int, repeats: int, qg: bool) -> dict:
    import hashlib

    import faiss
    import torch

    import metriclab.metrics.retrieval as retrieval

    x, y = sop_like(n, d)
    k = search_k(y)
    half = n // 2
    q, g = (x[:half], x[half:]) if qg else (x, None)
    ql, gl = (y[:half], y[half:]) if qg else (y, None)
    out: dict = {"k": k, "classes": int(len(np.unique(y))), "rss_before_mb": rss_mb()}
    digest = hashlib.sha256()
    search = retrieval.nearest_neighbors

    def recorded(*args, **kwargs):  # hash each neighbour chunk as retrieval_metrics gets it
        for start, idx in search(*args, **kwargs):
            digest.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
            yield start, idx

    retrieval.nearest_neighbors = recorded
    paths: list[str] = []
    options = {
        "ours": {},
        "blocked-fp32": {"backend": "blocked", "precision": "fp32"},
        "reference": {"backend": "faiss"},
    }

    def run() -> dict | None:
        if method == "bare":
            unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
            index = faiss.IndexFlatIP(d)
            index.add(unit(g if qg else x))
            index.search(unit(q), k - 1 if qg else k)
            return None
        if method == "pml":
            from pytorch_metric_learning.utils import accuracy_calculator, inference

            calc = accuracy_calculator.AccuracyCalculator(
                include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
                k="max_bin_count",
                knn_func=inference.FaissKNN(index_init_fn=faiss.IndexFlatIP),
            )
            unit = torch.nn.functional.normalize
            if qg:
                return calc.get_accuracy(
                    unit(torch.from_numpy(q)), ql, unit(torch.from_numpy(g)), gl, False
                )
            return calc.get_accuracy(unit(torch.from_numpy(x)), y)
        return retrieval.retrieval_metrics(
            q, ql, g, gl, ks=KS, on_search=paths.append, **options[method]
        )

    out["time_s"] = float("inf")
    for _ in range(repeats):
        digest = hashlib.sha256()
        cpu, start = cpu_s(), time.perf_counter()
        result = run()
        elapsed, cpu = time.perf_counter() - start, cpu_s() - cpu
        if elapsed < out["time_s"]:
            out["time_s"], out["cpu_s"] = elapsed, cpu
    out["metrics"] = result
    out["path"] = paths[-1] if paths else ""
    out["neighbours"] = digest.hexdigest()[:12] if paths else ""
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def spawn(method: str, n: int, d: int, repeats: int, qg: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, str(n), str(d), str(repeats), str(qg)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{method} at {n}x{d} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def cpu_flags() -> str:
    import torch

    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        flags = []
    wanted = [f for f in flags if f.startswith(("avx512", "amx"))]
    capability = torch.backends.cpu.get_cpu_capability()
    return f"torch CPU capability {capability}; flags: {' '.join(sorted(wanted)) or 'none'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per method")
    parser.add_argument("--pml", action="store_true", help="also time PML's AccuracyCalculator")
    parser.add_argument("--qg", action="store_true", help="query -> gallery (halves of the data)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--sizes", default="60000x512,200000x128", help="N x D, comma-separated")
    parser.add_argument("--methods", default="bare,ours,blocked-fp32,reference")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, n, d, repeats, qg = args.worker
        print(json.dumps(worker(method, int(n), int(d), int(repeats), qg == "True")))
        return

    import faiss

    from metriclab.search.matmul_precision import fast_bf16

    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    if args.quick:
        sizes = [(6_000, 128), (20_000, 64)]
    methods = args.methods.split(",") + (["pml"] if args.pml else [])
    import torch

    print(
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, {load()}"
    )
    print(f"{cpu_flags()}; bf16 measured fast: {fast_bf16(torch.device('cpu'))}")
    mode = "query -> gallery (halves)" if args.qg else "self-gallery"
    print(f"mode: {mode}")
    print("| data | k | method | path | time (s) | ratio | cpu (s) | peak RSS (MB) | neighbours |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, d in sizes:
        order = [m for m in ("bare", "reference") if m in methods]
        order += [m for m in methods if m not in order]  # each row compares with those two
        runs: dict[str, dict] = {}
        for m in order:
            r = runs[m] = spawn(m, n, d, args.repeats, args.qg)
            bare = runs["bare"]["time_s"] if "bare" in runs else float("nan")
            ref, same = runs.get("reference"), ""
            if r["neighbours"] and ref is not None:
                diff = max(abs(r["metrics"][key] - ref["metrics"][key]) for key in ref["metrics"])
                same = "same" if r["neighbours"] == ref["neighbours"] else "DIFFERENT"
                same += f" (metrics max diff {diff:.1e})"
            print(
                f"| {n:,} x {d} ({r['classes']:,} classes) | {r['k']} | {m} | {r['path']} "
                f"| {r['time_s']:.1f} | {r['time_s'] / bare:.3f} | {r['cpu_s']:.1f} "
                f"| {r['peak_rss_mb']:.0f} | {same} |",
                flush=True,
            )
            if m in ("ours", "pml"):
                shown = {key: round(v, 4) for key, v in r["metrics"].items()}
                print(f"  {m} metrics: {shown}", file=sys.stderr, flush=True)
    print(f"done, {load()}")


if __name__ == "__main__":
    main()
