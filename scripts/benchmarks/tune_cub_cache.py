"""The stand-alone prototype behind ``experiment=cub_lite0``'s tuning log (docs/real_photos.md).

    python scripts/benchmarks/tune_cub_cache.py --k 3 --views 3 --epochs 4 [--pool avgmax] ...

The same pipeline as ``module.speed.frozen_feature_cache`` without Lightning or Hydra, so a setting
can be tried in minutes: decode the CUB subset at ``/tmp/cub`` (class ids <= 100 train, > 100 test),
run the stem and the first ``--k`` stages of EfficientNet-Lite0 once under bf16 autocast on
``--views`` random crops of each training image and the center crop of each test image, then train
stages ``k+1..7`` + an identity-initialised linear head with Proxy-Anchor (AdamW, cosine decay per
step), printing test Recall@K after every epoch. Epoch ``e`` uses view ``e mod views`` of every
image (the framework draws one per image). ``--pool avgmax`` sums average and max pooling.
"""

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import v2 as T

from metriclab.losses.proxy_anchor import ProxyAnchorLoss
from metriclab.models.efficientnet_lite import EfficientNetLite

p = argparse.ArgumentParser()
p.add_argument("--k", type=int, default=4)
p.add_argument("--views", type=int, default=2)
p.add_argument("--epochs", type=int, default=8)
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--head-lr", type=float, default=1e-4)
p.add_argument("--bs", type=int, default=64)
p.add_argument("--scale", type=float, default=0.25)
p.add_argument("--size", type=int, default=224)
p.add_argument("--proxy-mult", type=float, default=100)
p.add_argument("--wd", type=float, default=1e-4)
p.add_argument("--warm", type=int, default=0)
p.add_argument("--emb", type=int, default=1280)
p.add_argument("--pool", default="avg")
p.add_argument("--bf16-front", type=int, default=1)
p.add_argument("--bnfrozen", type=int, default=1)
a = p.parse_args()
print(a, flush=True)
torch.manual_seed(0)
np.random.seed(0)
root = "/tmp/cub/CUB_200_2011"  # tar xzf ../shared/data/cub100.tar.gz -C /tmp/cub
names = dict(l.split() for l in open(f"{root}/images.txt"))
items = [(names[i], int(names[i].split(".")[0])) for i in names]
t0 = time.time()


def load(path, s):
    im = Image.open(f"{root}/images/{path}").convert("RGB")
    w, h = im.size
    r = s / min(w, h)
    return np.asarray(im.resize((round(w * r), round(h * r)), Image.BILINEAR))


S = round(a.size * 256 / 224)
train = [(load(pth, S), c) for pth, c in items if c <= 100]
test = [(load(pth, S), c) for pth, c in items if c > 100]
print(f"decoded {len(train)}+{len(test)} in {time.time() - t0:.0f}s", flush=True)
m = EfficientNetLite(0, frozen_bn=True).eval().to(memory_format=torch.channels_last)
b = m.body
norm = T.Normalize([0.5] * 3, [0.5] * 3)
aug = T.Compose(
    [T.RandomResizedCrop(a.size, scale=(a.scale, 1.0), antialias=True), T.RandomHorizontalFlip()]
)
center = T.CenterCrop(a.size)


def front(x):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16_front)):
        x = b.bn1(b.conv_stem(x))
        for blk in b.blocks[: a.k]:
            x = blk(x)
    return x.to(torch.bfloat16)


def cache(data, tf, views):
    out = []
    for _ in range(views):
        feats = []
        for i in range(0, len(data), 64):
            x = (
                torch.stack(
                    [tf(torch.from_numpy(im).permute(2, 0, 1)) for im, _ in data[i : i + 64]]
                ).float()
                / 255
            )
            feats.append(front(norm(x).contiguous(memory_format=torch.channels_last)))
        out.append(torch.cat(feats))
    return torch.stack(out)  # [V, N, C, h, w]


t1 = time.time()
Xte = cache(test, center, 1)[0]
yte = torch.tensor([c for _, c in test])
print(f"test cache {tuple(Xte.shape)} {time.time() - t1:.0f}s", flush=True)
t1 = time.time()
Xtr = cache(train, aug, a.views)
cls = sorted({c for _, c in train})
ytr = torch.tensor([cls.index(c) for _, c in train])
print(
    f"train cache {tuple(Xtr.shape)} {time.time() - t1:.0f}s; total {time.time() - t0:.0f}s",
    flush=True,
)
back = torch.nn.Sequential(*b.blocks[a.k :], b.conv_head, b.bn2)
for prm in back.parameters():
    prm.requires_grad_(True)
head = torch.nn.Linear(1280, a.emb)
if a.emb == 1280:
    torch.nn.init.eye_(head.weight)
torch.nn.init.zeros_(head.bias)


def setmode(train):
    back.train(train)
    head.train(train)
    if a.bnfrozen:
        for mod in back.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.eval()


def embed(x):
    y = back(x.float().contiguous(memory_format=torch.channels_last))
    y = y.mean((2, 3)) + (y.amax((2, 3)) if a.pool == "avgmax" else 0)
    return F.normalize(head(y), dim=1)


def evaluate():
    setmode(False)
    with torch.no_grad():
        e = torch.cat([embed(Xte[i : i + 128]) for i in range(0, len(Xte), 128)])
    s = e @ e.T
    s.fill_diagonal_(-2)
    nn_ = s.topk(8, dim=1).indices
    hit = yte[nn_] == yte[:, None]
    return {f"R@{k}": hit[:, :k].any(1).float().mean().item() for k in (1, 2, 4, 8)}


loss_fn = ProxyAnchorLoss(len(cls), a.emb, lr_multiplier=a.proxy_mult)
print("epoch 0", evaluate(), flush=True)
opt = torch.optim.AdamW(
    [
        {"params": back.parameters(), "lr": a.lr},
        {"params": head.parameters(), "lr": a.head_lr},
        {"params": loss_fn.parameters(), "lr": a.head_lr * a.proxy_mult},
    ],
    weight_decay=a.wd,
)
N = len(ytr)
steps = a.epochs * (N // a.bs)
step = 0
base = [g["lr"] for g in opt.param_groups]
t2 = time.time()
for ep in range(a.epochs):
    setmode(True)
    perm = torch.randperm(N)
    v = ep % a.views
    te = time.time()
    for i in range(0, N - a.bs + 1, a.bs):
        idx = perm[i : i + a.bs]
        f = 1.0 if step < a.warm else 0.5 * (1 + math.cos(math.pi * step / steps))
        for g, l in zip(opt.param_groups, base, strict=True):
            g["lr"] = l * f
        if step < a.warm:
            opt.param_groups[0]["lr"] = 0
        loss = loss_fn(embed(Xtr[v, idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    r = evaluate()
    print(
        f"epoch {ep + 1} loss {loss.item():.3f} {N / (time.time() - te):.0f} img/s",
        {k: round(x, 4) for k, x in r.items()},
        f"t={time.time() - t0:.0f}s",
        flush=True,
    )
