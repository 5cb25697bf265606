"""Multi-class N-pair loss (Sohn, NeurIPS 2016), with its L2 embedding penalty."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metriclab import tuples
from metriclab.distances import BaseDistance, DotProductSimilarity
from metriclab.losses.base import full_precision, zero_loss
from metriclab.losses.ranges import non_negative
from metriclab.tuples import IndicesTuple


class NPairLoss(nn.Module):
    """One (anchor, positive) pair per class; the other classes' positives are the negatives.

    From the batch (or the positive pairs of ``indices_tuple``) take, per class, the first
    positive pair ``(f_i, f_i+)`` -- without a tuple: the class's first two items -- giving
    ``N`` pairs of distinct classes::

        L = 1/N sum_i log(1 + sum_{j != i} exp(f_i.f_j+ - f_i.f_i+))
          + l2_reg_weight / 4 * (mean_i |f_i|^2 + mean_i |f_i+|^2)

    The first term is a softmax cross-entropy over the ``[N, N]`` similarity matrix with the
    diagonal as target; the penalty keeps raw (unnormalised) embeddings from growing (Sohn's
    regulariser, weighted as in TensorFlow's reference ``npairs_loss``).
    Shapes: ``[B, D], [B] -> scalar``; 0 when fewer than one pair exists. As in the paper, the
    embeddings are not L2-normalised (``loss=npair`` leaves the head's normalisation off unless
    ``head.normalize=true`` is given); the penalty is what bounds their norm.

    Args:
        l2_reg_weight: ``lambda`` of the L2 penalty (0.002; 0 disables it).
        distance: default dot product of raw embeddings (the paper's inner product).
    """

    accepts_miner = True
    #: One (anchor, positive) pair per class: a batch without one gives a zero loss.
    needs_positive_pairs = True
    #: The paper's loss works on raw embeddings: ``head.normalize=null`` (the default) then
    #: leaves them unnormalised, so the L2 penalty acts (retrieval still ranks by cosine).
    normalized_embeddings = False

    def __init__(self, l2_reg_weight: float = 0.002, distance: BaseDistance | None = None) -> None:
        super().__init__()
        self.distance = DotProductSimilarity() if distance is None else distance
        self.l2_reg_weight = non_negative(
            "loss.l2_reg_weight",
            l2_reg_weight,
            "the N-pair L2 penalty weight λ",
            0.002,
            "0 disables it; Sohn 2016's reference uses 0.002",
        )

    def forward(
        self, embeddings: Tensor, labels: Tensor, indices_tuple: IndicesTuple | None = None
    ) -> Tensor:
        labels = labels.to(embeddings.device)
        with full_precision(embeddings):
            emb = embeddings.float()
            anchors, positives = self.class_pairs(labels, indices_tuple)
            if len(anchors) == 0:
                return zero_loss(emb)
            a, p = emb[anchors], emb[positives]
            mat = self.distance(a, p)
            logits = mat if self.distance.is_inverted else -mat  # a similarity
            loss = F.cross_entropy(logits, torch.arange(len(a), device=emb.device))
            if self.l2_reg_weight == 0.0:
                return loss
            penalty = (a.pow(2).sum(1).mean() + p.pow(2).sum(1).mean()) * 0.25
            return loss + self.l2_reg_weight * penalty

    @staticmethod
    def class_pairs(labels: Tensor, indices_tuple: IndicesTuple | None) -> tuple[Tensor, Tensor]:
        """``(anchors, positives)`` int64 ``[N]``: the first positive pair of each class."""
        if indices_tuple is None:  # each class's first two items, via a stable sort
            order = torch.argsort(labels, stable=True)
            sorted_labels = labels[order]
            first = torch.ones_like(sorted_labels, dtype=torch.bool)
            first[1:] = sorted_labels[1:] != sorted_labels[:-1]
            next_same = torch.zeros_like(first)
            next_same[:-1] = sorted_labels[1:] == sorted_labels[:-1]
            starts = torch.nonzero(first & next_same, as_tuple=True)[0]
            return order[starts], order[starts + 1]
        a1, p, _, _ = tuples.to_pairs(indices_tuple)
        if len(a1) == 0:
            return a1, p
        classes, inverse = torch.unique(labels[a1], return_inverse=True)
        order = torch.arange(len(a1), device=a1.device)
        first = torch.full((len(classes),), len(a1), device=a1.device, dtype=torch.long)
        first = first.scatter_reduce(0, inverse, order, reduce="amin")
        return a1[first].long(), p[first].long()

    def extra_repr(self) -> str:
        return f"l2_reg_weight={self.l2_reg_weight}"
