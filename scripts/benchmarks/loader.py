"""Training-loader throughput on CUB-sized JPEGs, with and without ``data.cache_images``.

    python scripts/benchmarks/loader.py [--images 400] [--epochs 3] [--workers 0 2]

Writes a CUB-200-2011 layout (``images.txt``, ``image_class_labels.txt``, ``images/``) of
``--images`` photo-like 500x375 JPEGs (the typical CUB size) into a temporary folder, reads it with
``data=cub``'s reader and transforms (RandomResizedCrop 224 + flip, ImageNet normalisation) and
iterates the training loader (M-per-class batches) for ``--epochs`` epochs without a model. It
prints images/s of the first epoch (worker start-up included) and of the later ones (steady state),
and the setup time (reading the tables; with the cache, decoding every image once).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from metriclab.data import MetricDataModule, MPerClassSampler
from metriclab.data.readers import read_cub


def write_cub(root: Path, num_images: int, seed: int = 0) -> Path:
    """A CUB-200-2011 folder with ``num_images`` 500x375 JPEGs: 80% in training classes 1..16,
    20% in test classes 101..104 (photo-like content: smooth colour fields plus noise)."""
    base = root / "CUB_200_2011"
    rng = np.random.default_rng(seed)
    train, test = list(range(1, 17)), list(range(101, 105))
    labels = [train[i % 16] if i < num_images * 0.8 else test[i % 4] for i in range(num_images)]
    yy, xx = np.mgrid[0:375, 0:500].astype(np.float32)
    images, classes = [], []
    for i, c in enumerate(labels, start=1):
        rel = f"{c:03d}.Bird_{c}/Bird_{c}_{i:05d}.jpg"
        phase = rng.uniform(0, 6.28, size=3)
        field = np.stack([np.sin(xx / (40 + 9 * k) + yy / 57 + phase[k]) for k in range(3)], -1)
        pixels = 127 + 80 * field + rng.normal(0, 20, size=field.shape)
        path = base / "images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path, quality=90)
        images.append(f"{i} {rel}\n")
        classes.append(f"{i} {c}\n")
    (base / "images.txt").write_text("".join(images))
    (base / "image_class_labels.txt").write_text("".join(classes))
    return base


def measure(root: Path, cache: bool, workers: int, epochs: int, batch_size: int) -> dict:
    """Setup seconds and images/s of each epoch of the training loader."""
    start = time.perf_counter()
    datamodule = MetricDataModule(
        reader=partial(read_cub),
        name="cub",
        root=str(root),
        batch_size=batch_size,
        num_workers=workers,
        image_size=224,
        val_classes=0,
        cache_images=cache,
        sampler=partial(MPerClassSampler, m=4),
    )
    datamodule.setup("fit")
    setup_s = time.perf_counter() - start
    loader = datamodule.train_dataloader()
    rates = []
    for epoch in range(epochs):
        loader.batch_sampler.set_epoch(epoch)
        count, start = 0, time.perf_counter()
        for images, _, _ in loader:
            count += len(images)
        rates.append(count / (time.perf_counter() - start))
    return {"setup_s": setup_s, "first": rates[0], "later": float(np.mean(rates[1:] or rates))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=400, help="JPEGs to write (80%% train)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per setting (>= 2)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="num_workers")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    logging.getLogger("metriclab.data").setLevel(logging.ERROR)  # a fixture is not the full CUB
    torch.set_num_threads(1)  # loading is what is measured: one thread, as in a worker
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        base = write_cub(Path(tmp), args.images)
        print(f"wrote {args.images} JPEGs 500x375 in {time.perf_counter() - start:.1f} s")
        print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
        print("| cache_images | num_workers | setup s | epoch 1 img/s | later epochs img/s |")
        print("|---|---|---|---|---|")
        for workers in args.workers:
            for cache in (False, True):
                r = measure(base, cache, workers, args.epochs, args.batch_size)
                print(
                    f"| {str(cache).lower()} | {workers} | {r['setup_s']:.1f} | "
                    f"{r['first']:.0f} | {r['later']:.0f} |",
                    flush=True,
                )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
