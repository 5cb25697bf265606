"""A small convolutional backbone for CPUs and tiny images (8x8 digits to 32x32 CIFAR)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Module):
    """``depth`` blocks of Conv3x3-BatchNorm-ReLU with 2x2 max-pooling between blocks.

    Block ``i`` has ``min(width * 2**i, max(width, 512))`` output channels (64, 128, 256 by
    default). The convolutions are padded, so they keep the spatial size; the 2x2 max-pool between
    two blocks runs only while the feature map is larger than 2x2, so an 8x8 digit ends as a 2x2
    map and a 28x28 Omniglot character as a 7x7 map instead of collapsing to nothing. No global
    pooling: that is the embedding head's job. Made for CPU training (timings: BENCHMARKS.md,
    "Every loss trains (digits, CPU)").

    Args:
        in_channels: channels of the input images (1 for grayscale, 3 for RGB).
        width: channels of the first block; each later block doubles it (capped at 512, or at
            ``width`` when that is larger).
        depth: number of Conv-BN-ReLU blocks (at least 1).
        flatten: return the whole final map flattened, ``[B, C * h * w]``, instead of the map;
            keeps where each feature is (what tells digits and characters apart), which a
            global pooling throws away. Needs ``image_size``.
        image_size: side of the (square) input images, for ``flatten``.

    Shapes:
        input ``[B, in_channels, H, W]`` -> output ``[B, num_features, h, w]`` with
        ``h = H / 2**k`` for the ``k <= depth - 1`` pools that ran; with ``flatten``,
        ``[B, num_features]`` and ``num_features = C * h * w``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        width: int = 64,
        depth: int = 3,
        flatten: bool = False,
        image_size: int | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1 or width < 1 or depth < 1:
            raise ValueError(
                f"SmallCNN needs in_channels, width and depth >= 1, got in_channels={in_channels}, "
                f"width={width}, depth={depth}"
            )
        cap = max(width, 512)
        channels = [min(width * 2**i, cap) for i in range(depth)]
        blocks = []
        previous = in_channels
        for out in channels:
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(previous, out, kernel_size=3, padding=1, bias=False),
                    nn.BatchNorm2d(out),
                    nn.ReLU(inplace=True),
                )
            )
            previous = out
        self.blocks = nn.ModuleList(blocks)
        self.in_channels = in_channels
        self.flatten = bool(flatten)
        self.num_features: int = channels[-1]
        if self.flatten:
            if not image_size or image_size < 1:
                raise ValueError(
                    f"SmallCNN(flatten=True) needs the input image_size, got {image_size!r}"
                )
            side = image_size
            for _ in range(depth - 1):
                side = side // 2 if side > 2 else side
            self.num_features = channels[-1] * side * side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, in_channels, H, W]`` to a feature map ``[B, num_features, h, w]``."""
        for i, block in enumerate(self.blocks):
            if i > 0 and min(x.shape[-2:]) > 2:
                x = F.max_pool2d(x, kernel_size=2)
            x = block(x)
        return x.flatten(1) if self.flatten else x
