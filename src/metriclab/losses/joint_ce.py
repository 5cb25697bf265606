"""Joint training: a metric loss plus a softmax classifier on the embedding (seed 003)."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from metriclab.losses.base import complete_loss, full_precision
from metriclab.losses.ranges import inner_loss_keys, non_negative
from metriclab.tuples import IndicesTuple


class JointCrossEntropyLoss(nn.Module):
    """``L = metric_weight * metric(embeddings, labels) + CE(W x + b, labels)``.

    A linear classifier ``[embedding_size -> num_classes]`` on the embedding adds the class
    information a pair-based loss ignores. ``metric`` is any loss of this package (or a factory
    of one, e.g. a Hydra ``_partial_``, completed with ``num_classes`` / ``embedding_size`` when
    it needs them). A mined ``indices_tuple`` goes to the metric loss only; the instance's
    ``accepts_miner`` is the metric loss's. Shapes: ``[B, D], [B] -> scalar``.

    Args:
        metric: the metric loss (``configs/loss/joint_ce.yaml`` wraps multisim by default).
        num_classes, embedding_size: filled in by the pipeline (training classes, head width).
        metric_weight: ``w`` (seed 003: 0.1).
        lr_multiplier: learning-rate multiplier of the classifier (and of the metric loss's own
            parameters); default: the metric loss's ``lr_multiplier``, else 1.
    """

    accepts_miner = True

    def __init__(
        self,
        metric: nn.Module | Callable[..., nn.Module],
        num_classes: int,
        embedding_size: int,
        metric_weight: float = 0.1,
        lr_multiplier: float | None = None,
    ) -> None:
        super().__init__()
        with inner_loss_keys():
            self.metric = complete_loss(
                metric, num_classes=num_classes, embedding_size=embedding_size
            )
        self.classifier = nn.Linear(embedding_size, num_classes)
        self.metric_weight = non_negative(
            "loss.metric_weight",
            metric_weight,
            "the weight w of the metric loss beside the cross-entropy",
            0.1,
            "0 trains the classifier alone",
        )
        self.accepts_miner = bool(getattr(self.metric, "accepts_miner", True))
        self.needs_positive_pairs = bool(getattr(self.metric, "needs_positive_pairs", False))
        if lr_multiplier is None:
            lr_multiplier = getattr(self.metric, "lr_multiplier", 1.0)
        self.lr_multiplier = non_negative(
            "loss.lr_multiplier", lr_multiplier, "the classifier's learning-rate multiplier", 1
        )

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: IndicesTuple | None = None
    ) -> Tensor:
        labels = labels.to(embeddings.device).long()
        if indices_tuple is None:
            metric = self.metric(embeddings, labels)
        else:
            metric = self.metric(embeddings, labels, indices_tuple)
        with full_precision(embeddings):
            logits = self.classifier(embeddings.float())
            if len(labels) and int(labels.max()) >= logits.shape[1]:
                raise ValueError(
                    f"label {int(labels.max())} but the classifier has {logits.shape[1]} classes"
                )
            return self.metric_weight * metric.float() + F.cross_entropy(logits, labels)

    def extra_repr(self) -> str:
        return f"metric_weight={self.metric_weight}, lr_multiplier={self.lr_multiplier}"
