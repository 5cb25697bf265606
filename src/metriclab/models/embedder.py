"""A backbone and an embedding head joined into one model: images in, embeddings out."""

from __future__ import annotations

import torch
from torch import nn


class EmbeddingModel(nn.Module):
    """``head(backbone(x))``: images ``[B, C, H, W]`` to embeddings ``[B, embedding_size]``.

    Args:
        backbone: any module with ``num_features`` whose output is ``[B, num_features, h, w]``
            or ``[B, num_features]`` (e.g. :class:`~metriclab.models.SmallCNN`).
        head: a module with ``embedding_size`` mapping that output to ``[B, embedding_size]``
            (e.g. :class:`~metriclab.models.EmbeddingHead`).
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.embedding_size: int = int(head.embedding_size)
        self.from_cut = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed images ``[B, C, H, W]`` into ``[B, embedding_size]``; while ``from_cut`` is
        set, ``x`` is the output of the backbone's frozen prefix instead (a feature cache,
        :mod:`metriclab.data.feature_cache`)."""
        if self.from_cut:
            return self.head(self.backbone.forward_from_cut(x))
        return self.head(self.backbone(x))

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """The trainable parameters split as ``{"backbone": [...], "head": [...]}``.

        The training pipeline gives each group its own learning rate (a pretrained backbone
        usually learns slower than the freshly initialised head). Parameters with
        ``requires_grad=False`` (a frozen part) are left out.
        """
        return {
            "backbone": [p for p in self.backbone.parameters() if p.requires_grad],
            "head": [p for p in self.head.parameters() if p.requires_grad],
        }
