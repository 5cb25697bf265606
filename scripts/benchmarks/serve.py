"""The HTTP service under load, on 127.0.0.1 only: throughput, latency, edits, a crash.

    python scripts/benchmarks/serve.py --index RUN_DIR/export [--clients 4] [--seconds 10]
                                       [--max-requests 4000] [--enrol 100] [--remove 50]
                                       [--batch-timeouts 0.005,0.001] [--threads 1]

Works on copies of the export (in a temporary folder); the export itself is never edited.

1. **In process**: one caller runs what the worker runs per search (decode + transform, the
   TorchScript model, the index search, the decision) for ``--seconds``: the floor the service's
   overhead (HTTP, multipart, LitServe's queues) is measured against.
2. **Service, batching on / off**: ``scripts/serve.py`` with ``max_batch_size=8`` and each
   ``--batch-timeouts`` (5 ms, 1 ms), and with ``max_batch_size=1``; ``--clients`` threads,
   each with one keep-alive connection, send one-image ``/search`` requests back to back for
   ``--seconds`` (at most ``--max-requests`` in all). Requests/s and p50/p95/p99 latency.
3. **Edits under load** (batching on): while the clients search, one editor enrols ``--enrol``
   noise images (5 new classes), removes ``--remove`` of them, and hot-swaps once half-way
   (``POST /reload`` of a copy of the served export taken at that moment; later edits go to the
   copy). Every request must answer 200; every acknowledged item is searched for with its own
   image (found: in its top 5) and every removed one must be gone from ``GET /items``.
4. **kill -9**: the server's process group is killed with SIGKILL and started again on the same
   folder: ``GET /items`` must hold exactly the acknowledged items (lost and resurrected: 0).

Prints one table; exit status 1 if a check fails.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from metriclab.deployment.index import load_index
from metriclab.service.client import Client, ServiceProcess
from metriclab.service.gallery import Gallery

SERVE = Path(__file__).resolve().parents[1] / "serve.py"


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in milliseconds."""
    p = np.percentile(np.asarray(latencies) * 1000, [50, 95, 99]) if latencies else [np.nan] * 3
    return float(p[0]), float(p[1]), float(p[2])


def in_process(folder: Path, images: list[bytes], seconds: float, k: int) -> dict:
    """What the worker does per one-image search, called in this process, back to back."""
    gallery = Gallery(folder)
    latencies, start, i = [], time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        gallery.answers(gallery.embed(gallery.tensors([images[i % len(images)]])), k)
        latencies.append(time.perf_counter() - t)
        i += 1
    return {"requests": i, "failed": 0, "rps": i / (time.perf_counter() - start), "lat": latencies}


class Load:
    """``clients`` threads searching back to back until stopped, the time or the count runs
    out; records every latency and every non-200 answer."""

    def __init__(self, port: int, images: list[bytes], clients: int, seconds: float, most: int):
        self.port, self.images, self.seconds, self.most = port, images, seconds, most
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.count = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(c,)) for c in range(clients)]

    def client(self, c: int) -> None:
        client, i = Client("127.0.0.1", self.port, timeout=60), c
        while not self.stop.is_set() and time.perf_counter() < self.deadline:
            with self.lock:
                if self.count >= self.most:
                    break
                self.count += 1
            t = time.perf_counter()
            try:
                status, answer = client.search([self.images[i % len(self.images)]], k=5)
            except OSError as exc:
                status, answer = 0, str(exc)
            elapsed = time.perf_counter() - t
            with self.lock:
                self.latencies.append(elapsed)
                if status != 200:
                    self.failures.append(f"{status}: {str(answer)[:200]}")
            i += len(self.threads)
        client.close()

    def start(self) -> Load:
        self.started = time.perf_counter()
        self.deadline = self.started + self.seconds
        for t in self.threads:
            t.start()
        return self

    def join(self) -> dict:
        for t in self.threads:
            t.join()
        wall = time.perf_counter() - self.started
        n = len(self.latencies)
        return {"requests": n, "failed": len(self.failures), "rps": n / wall, "lat": self.latencies}

    def run(self) -> dict:
        """Start, and wait until the time or the count runs out."""
        return self.start().join()


def noise(i: int) -> bytes:
    """A distinct random 8x8 image (PNG bytes)."""
    buffer = io.BytesIO()
    array = np.random.default_rng(1000 + i).integers(0, 255, (8, 8), dtype=np.uint8)
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def edits_under_load(work: Path, images: list[bytes], args: argparse.Namespace) -> dict:
    """Part 3 and 4 of the module docstring; returns the counts."""
    served, swapped = work / "edit", work / "swapped"
    server = ServiceProcess(SERVE, served, work / "edit.log", *args.server_args, env=args.env)
    editor = Client("127.0.0.1", server.port, timeout=60)
    acknowledged: dict[int, bytes] = {}
    removed: list[int] = []
    edit_failures: list[str] = []
    load = Load(server.port, images, args.clients, 3600, 10**9).start()
    try:
        for i in range(args.enrol):
            status, answer = editor.enrol(noise(i), f"bench-{i % 5}")
            if status == 200:
                acknowledged[answer["id"]] = noise(i)
            else:
                edit_failures.append(f"enrol {status}: {answer}")
            if i == args.enrol // 2:  # hot swap: a copy of the export as it is now
                shutil.copytree(served, swapped)
                status, answer = editor.reload(str(swapped))
                if status != 200:
                    edit_failures.append(f"reload {status}: {answer}")
        for item in list(acknowledged)[: args.remove * 2 : 2][: args.remove]:
            status, answer = editor.remove(item)
            if status == 200:
                removed.append(item)
                del acknowledged[item]
            else:
                edit_failures.append(f"remove {status}: {answer}")
    finally:
        load.stop.set()
    loaded = load.join()
    found = sum(
        item in [m["id"] for m in editor.search([data], k=5)[1]["results"][0]["matches"]]
        for item, data in acknowledged.items()
    )
    ids = {item["id"] for item in editor.items()[1]["items"]}
    still_there = len(set(removed) & ids)
    exported = set(range(len(load_index(args.index)[1].paths)))
    editor.close()
    server.kill(signal.SIGKILL)  # kill -9 of the whole service
    again = ServiceProcess(SERVE, swapped, work / "restart.log", *args.server_args, env=args.env)
    after = {item["id"] for item in again.client.items()[1]["items"]}
    again.kill(signal.SIGTERM)
    expected = exported | set(acknowledged)
    return {
        "load": loaded,
        "failures": load.failures + edit_failures,
        "enrolled": len(acknowledged) + len(removed),
        "removed": len(removed),
        "found": found,
        "acknowledged": len(acknowledged),
        "removed_still_there": still_there,
        "restart_lost": len(expected - after),
        "restart_extra": len(after - expected),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, type=Path, help="an export folder")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=4000)
    parser.add_argument("--enrol", type=int, default=100)
    parser.add_argument("--remove", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the worker")
    parser.add_argument(
        "--batch-timeouts",
        type=lambda text: [float(t) for t in text.split(",")],
        default=[0.005, 0.001],
        help="batch_timeout values (seconds) measured with max_batch_size=8",
    )
    args = parser.parse_args(argv)
    if not (args.index / "index.json").is_file():
        print(f"error: --index {args.index}: no export there (index.json)", file=sys.stderr)
        return 2
    args.env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    args.server_args = (f"threads={args.threads}",)
    _, meta = load_index(args.index)
    images = [Path(p).read_bytes() for p in meta.paths[:: max(1, len(meta.paths) // 64)]]
    rows = []
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        work = Path(tmp)
        settings = [
            (f"batching on (8, {t * 1000:g} ms)", ("max_batch_size=8", f"batch_timeout={t}"))
            for t in args.batch_timeouts
        ] + [("batching off", ("max_batch_size=1",))]
        for name in ("edit", *(f"served{i}" for i in range(len(settings)))):
            shutil.copytree(args.index, work / name, ignore=shutil.ignore_patterns("gallery"))
        import torch

        torch.set_num_threads(args.threads)
        baseline = in_process(work / "served0", images, args.seconds, 5)
        rows.append(("in process (model + index)", 1, baseline))
        for i, (label, extra) in enumerate(settings):
            folder = work / f"served{i}"
            server = ServiceProcess(
                SERVE, folder, work / f"{i}.log", *args.server_args, *extra, env=args.env
            )
            Load(server.port, images, 1, 2, 10**9).run()  # warm-up
            load = Load(server.port, images, args.clients, args.seconds, args.max_requests)
            rows.append((f"service, {label}", args.clients, load.run()))
            server.kill(signal.SIGTERM)
        edits = edits_under_load(work, images, args)
    rows.append(("service under edits + hot swap", args.clients, edits["load"]))

    print(
        f"{'setting':<34} {'clients':>7} {'requests':>8} {'failed':>6} {'req/s':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
    )
    for label, clients, r in rows:
        p50, p95, p99 = percentiles(r["lat"])
        print(
            f"{label:<34} {clients:>7} {r['requests']:>8} {r['failed']:>6} {r['rps']:>7.1f} "
            f"{p50:>7.1f} {p95:>7.1f} {p99:>7.1f}"
        )
    print(
        f"edits under load: enrolled {edits['enrolled']}, removed {edits['removed']}, hot swaps 1; "
        f"acknowledged live {edits['acknowledged']}, found {edits['found']}, removed still listed "
        f"{edits['removed_still_there']}; failed requests {len(edits['failures'])}"
    )
    print(f"kill -9 + restart: lost {edits['restart_lost']}, resurrected {edits['restart_extra']}")
    for line in edits["failures"][:5]:
        print(f"  failure: {line}")
    ok = (
        not edits["failures"]
        and edits["found"] == edits["acknowledged"]
        and edits["removed_still_there"] == edits["restart_lost"] == edits["restart_extra"] == 0
        and all(r["failed"] == 0 for _, _, r in rows)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
