"""What the head-to-head benchmarks (``cub.py``, ``omniglot.py``) share: finding the data, the
peer's Recall@K, running our side as a user runs it, and the machine line under the table.

Imported by those scripts from their own folder (``python scripts/benchmarks/cub.py`` puts it on
``sys.path``); not a command of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
KS = (1, 2, 4, 8)


def find_root(
    args: argparse.Namespace, archive: Path, what: str, name: str, inside: str = ""
) -> Path:
    """``--root`` as given, or ``--archive`` (default ``archive``) extracted to a fresh temporary
    folder ``/tmp/{name}-*`` and ``inside`` of it; a missing archive is one ``error: no {what}
    at ...`` line."""
    if args.root:
        return Path(args.root)
    archive = Path(args.archive or archive)
    if not archive.is_file():
        sys.exit(f"error: no {what} at {archive}; pass --root DIR or --archive FILE")
    dest = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / inside


def recall_at_k(embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Recall@K among all items, each query's own row left out (bare FAISS exact search)."""
    import faiss

    x = torch.nn.functional.normalize(embeddings, dim=1).numpy().astype(np.float32)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, ids = index.search(x, max(KS) + 1)
    y = labels.numpy()
    own = ids == np.arange(len(x))[:, None]
    neighbours = np.stack([row[~mask][: max(KS)] for row, mask in zip(ids, own, strict=True)])
    hits = y[neighbours] == y[:, None]
    return {f"test/recall@{k}": float(hits[:, :k].any(1).mean()) for k in KS}


def run_ours(
    experiment: str, root: Path, overrides: list[str], out: Path, fixed: tuple[str, ...] = ()
) -> dict[str, float]:
    """``python train.py experiment=... data.root=ROOT hydra.run.dir=OUT *fixed *overrides`` in a
    subprocess, as a user runs it (its output shown); its ``metrics.json``. A failed run is one
    ``error:`` line and exit status 1."""
    command = [
        sys.executable,
        str(REPO / "train.py"),
        f"experiment={experiment}",
        f"data.root={root}",
        f"hydra.run.dir={out}",
        "callbacks.progress_bar=null",
        *fixed,
        *overrides,
    ]
    print("ours:", " ".join(command[1:]), flush=True)
    result = subprocess.run(command, cwd=REPO, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if result.returncode != 0:
        sys.exit(f"error: train.py exited with {result.returncode}")
    return json.loads((out / "metrics.json").read_text())


def print_machine() -> None:
    """The line above the table: torch version, its threads, the load average now."""
    print(
        f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f} at the end"
    )
