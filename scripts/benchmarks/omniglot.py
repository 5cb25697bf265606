"""Omniglot zero-shot on this CPU: ``experiment=omniglot`` against the peer's plain loop.

    python scripts/benchmarks/omniglot.py [--root DIR | --archive omniglot.tar.gz] [--epochs 10]
                                         [--skip-peer] [--skip-ours] [-- OVERRIDES ...]

Both sides train on the 964 ``images_background`` characters and retrieve among the 13,180
``images_evaluation`` images (Recall@K, the query left out of its own results), one after the
other in the same run, so they see the same machine:

- **peer**: the reference point of ``../shared/data/README.md``, written out here as a plain
  PyTorch loop with pytorch-metric-learning: Conv-4 (4 x Conv3x3(64)-BN-ReLU-MaxPool2, 28 px
  -> 64 features) + Linear(64, 128), ``MultiSimilarityLoss`` + ``MultiSimilarityMiner``, PML's
  ``MPerClassSampler`` (m=4, batch 128), Adam 1e-3, no augmentation, ``--epochs`` epochs;
  images decoded once into memory. Its Recall@K comes from a bare FAISS ``IndexFlatIP`` search
  on the L2-normalised embeddings (not from metriclab's evaluator).
- **ours**: ``python train.py experiment=omniglot data.root=...`` as a user runs it (a
  subprocess: config, caching, validation every epoch, checkpoints, test), read back from its
  ``metrics.json``.

Prints one table: Recall@{1,2,4,8}, training seconds and the wall time of each side.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from head_to_head import DATA, KS, print_machine, recall_at_k, run_ours
from head_to_head import find_root as _find_root
from torch import nn

ARCHIVE = DATA / "omniglot.tar.gz"


def find_root(args: argparse.Namespace) -> Path:
    """The folder holding ``images_background/`` (extracting ``--archive`` when needed)."""
    return _find_root(args, ARCHIVE, "Omniglot", "omniglot", inside="omniglot")


def load_set(folder: Path, size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """Every PNG under ``folder`` (one sub-folder per character, at any depth) as
    ``float [N, 1, size, size]`` in [0, 1] and labels ``[N]`` (class = parent folder)."""
    from PIL import Image

    paths = sorted(folder.rglob("*.png"))
    classes = {p: i for i, p in enumerate(sorted({path.parent for path in paths}))}
    images = np.stack(
        [np.asarray(Image.open(p).convert("L").resize((size, size), Image.BILINEAR)) for p in paths]
    )
    labels = torch.tensor([classes[p.parent] for p in paths])
    return torch.from_numpy(images).float().div_(255).unsqueeze(1), labels


def conv4() -> nn.Module:
    blocks = []
    for c_in in (1, 64, 64, 64):
        blocks += [
            nn.Conv2d(c_in, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]
    return nn.Sequential(*blocks, nn.Flatten(), nn.Linear(64, 128))


def run_peer(root: Path, epochs: int, seed: int = 0) -> dict[str, float]:
    from pytorch_metric_learning import losses, miners, samplers

    torch.manual_seed(seed)
    train_x, train_y = load_set(root / "images_background")
    test_x, test_y = load_set(root / "images_evaluation")
    model = conv4()
    loss_fn, miner = losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    sampler = samplers.MPerClassSampler(
        train_y, m=4, batch_size=128, length_before_new_iter=len(train_y)
    )
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.tensor(list(iter(sampler)))
        for batch in order.split(128):
            if len(batch) < 128:
                continue
            embeddings = model(train_x[batch])
            loss = loss_fn(embeddings, train_y[batch], miner(embeddings, train_y[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(
            f"peer: epoch {epoch + 1}/{epochs} done, {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    train_time = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        embeddings = torch.cat([model(x) for x in test_x.split(512)])
    return {**recall_at_k(embeddings, test_y), "train_time_s": train_time}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="folder holding images_background/ and images_evaluation/")
    parser.add_argument("--archive", help=f"omniglot.tar.gz to extract (default {ARCHIVE})")
    parser.add_argument("--epochs", type=int, default=10, help="the peer's epochs")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides for our side")
    args = parser.parse_args()
    root = find_root(args)
    rows = {}
    if not args.skip_peer:
        start = time.perf_counter()
        rows[f"peer: plain loop + PML, {args.epochs} epochs"] = {
            **run_peer(root, args.epochs),
            "wall_s": time.perf_counter() - start,
        }
    if not args.skip_ours:
        start = time.perf_counter()
        out = Path(tempfile.mkdtemp(prefix="omniglot-run-"))
        label = " ".join(["experiment=omniglot", *args.overrides])
        rows[f"metriclab: {label}"] = {
            **run_ours("omniglot", root, args.overrides, out),
            "wall_s": time.perf_counter() - start,
        }
    print_machine()
    print("| run | R@1 | R@2 | R@4 | R@8 | training s | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name, m in rows.items():
        recalls = " | ".join(f"{m[f'test/recall@{k}']:.4f}" for k in KS)
        print(f"| {name} | {recalls} | {m['train_time_s']:.0f} | {m['wall_s']:.0f} |")


if __name__ == "__main__":
    main()
