"""Framework overhead: a Lightning training step of metriclab against a hand-written loop.

    python scripts/benchmarks/overhead.py [--steps 60] [--repeats 3] [--batch-size 128]
                                          [--image-size 32]

Both run the same work in the same process: the M-per-class batch sampler over an in-memory
dataset (``[N, 3, S, S]`` random images, 100 classes), SmallCNN + embedding head, the
Multi-Similarity miner and loss, Adam. The framework side is ``MetricLearningModule`` under
``pl.Trainer`` (no logger, checkpoint or progress bar: those are I/O, not step overhead); the
hand-written side is ``for x, y in loader: loss(model(x), y).backward(); opt.step()``. Time per
step: the median over ``--repeats`` alternating rounds of ``--steps`` steps after a warm-up, so
both see the same machine state. Prints a table; ``overhead = framework / plain - 1``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from metriclab.data import MPerClassSampler
from metriclab.distances import CosineSimilarity
from metriclab.losses import MultiSimilarityLoss
from metriclab.miners import MultiSimilarityMiner
from metriclab.models import EmbeddingHead, EmbeddingModel, SmallCNN
from metriclab.pipeline import MetricLearningModule


class InMemory(Dataset):
    """``(image [3, S, S], label, index)`` items from tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], int(self.labels[i]), i


def make_parts(args, seed: int = 0):
    torch.manual_seed(seed)
    backbone = SmallCNN(in_channels=3, width=args.width, depth=3)
    model = EmbeddingModel(backbone, EmbeddingHead(backbone.num_features, 128))
    loss = MultiSimilarityLoss(distance=CosineSimilarity())
    miner = MultiSimilarityMiner(distance=CosineSimilarity())
    return model, loss, miner


def loader(dataset: InMemory, args, steps: int) -> DataLoader:
    sampler = MPerClassSampler(
        dataset.labels.numpy(), args.batch_size, m=4, seed=0, batches_per_epoch=steps
    )
    return DataLoader(dataset, batch_sampler=sampler, num_workers=0)


def time_plain(dataset, args, steps: int) -> float:
    model, loss_fn, miner = make_parts(args)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = None
    for step, (x, y, _) in enumerate(loader(dataset, args, steps + args.warmup)):
        if step == args.warmup:
            start = time.perf_counter()
        embeddings = model(x)
        loss = loss_fn(embeddings, y, miner(embeddings, y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


class StepTimer(pl.Callback):
    """Wall time from the end of the warm-up steps to the end of training."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup and not self.start:
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self.end = time.perf_counter()


def time_framework(dataset, args, steps: int) -> float:
    model, loss_fn, miner = make_parts(args)
    module = MetricLearningModule(
        model, loss_fn, optimizer=partial(torch.optim.Adam, lr=1e-3), miner=miner
    )
    timer = StepTimer(args.warmup)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps + args.warmup,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=loader(dataset, args, steps + args.warmup))
    return (timer.end - timer.start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=32)
    args = parser.parse_args()
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    g = torch.Generator().manual_seed(0)
    n = 100 * 40
    images = torch.randn(n, 3, args.image_size, args.image_size, generator=g)
    dataset = InMemory(images, torch.arange(n) % 100)
    plain, framework = [], []
    for _ in range(args.repeats):
        plain.append(time_plain(dataset, args, args.steps))
        framework.append(time_framework(dataset, args, args.steps))
    p, f = statistics.median(plain), statistics.median(framework)
    print(
        f"torch {torch.__version__}, pytorch-lightning {pl.__version__}, "
        f"threads {torch.get_num_threads()}, batch {args.batch_size}, "
        f"{args.image_size}x{args.image_size} RGB, SmallCNN width {args.width}"
    )
    print("| loop | ms / step (median) | all rounds (ms) |")
    print("|---|---|---|")
    for name, median, rounds in (
        ("hand-written PyTorch", p, plain),
        ("metriclab (Lightning)", f, framework),
    ):
        print(f"| {name} | {median * 1e3:.1f} | {', '.join(f'{t * 1e3:.1f}' for t in rounds)} |")
    print(f"\noverhead: {100 * (f / p - 1):+.1f}%")


if __name__ == "__main__":
    main()
