"""The embedding head: global pooling, optional BatchNorm, a linear layer, L2 normalisation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from metriclab.errors import ConfigError
from metriclab.models.pooling import POOLINGS, GlobalPooling


def check_head_settings(embedding_size: object, pooling: object, gem_p: object) -> None:
    """Refuse (one ConfigError line) an embedding size below 1, an unknown pooling, or a GeM
    exponent ``p <= 0`` (a fractional power of a negative mean is undefined)."""
    if (
        isinstance(embedding_size, bool)
        or not isinstance(embedding_size, int)
        or embedding_size < 1
    ):
        raise ConfigError(
            f"head.embedding_size={embedding_size}: the embedding size E (the output width of "
            "the head's linear layer) must be a whole number >= 1 (128 and 512 are usual); "
            "set head.embedding_size=128"
        )
    if pooling not in POOLINGS:
        raise ConfigError(
            f"head.pooling={pooling}: no such pooling; choose one of {', '.join(POOLINGS)}, "
            "e.g. head.pooling=avg"
        )
    if pooling == "gem" and not (isinstance(gem_p, int | float) and 0 < gem_p < math.inf):
        raise ConfigError(
            f"head.gem_p={gem_p}: the GeM pooling exponent p must be > 0 (p = 1 is average "
            "pooling, p -> inf max pooling; Radenovic et al. 2018 use 3); set head.gem_p=3"
        )


class EmbeddingHead(nn.Module):
    """Turn a backbone's features into an embedding: pool -> [BatchNorm1d] -> Linear -> [L2].

    The usual deep-metric-learning head (e.g. Musgrave et al. 2020; Zhai & Wu 2019 add the
    BatchNorm before the linear layer). ``in_features`` is the backbone's ``num_features``; the
    training pipeline fills it in (the config is ``_partial_``), nobody types it.

    Args:
        in_features: channels ``C`` of the backbone output.
        embedding_size: size ``E`` of the embedding.
        pooling: ``"avg"``, ``"max"``, ``"gem"`` (generalized mean, exponent ``gem_p``) or
            ``"avgmax"`` (avg + max); ignored for a 2-D backbone output.
        batch_norm: apply ``BatchNorm1d(C)`` to the pooled features before the linear layer.
        normalize: L2-normalise the embeddings (rows of unit norm); ``None`` (the config's
            "as the loss expects", resolved by the pipeline) counts as true here.
        gem_p: the exponent ``p`` of GeM pooling (3 in Radenovic et al. 2018).
        identity_init: start the linear layer as the identity (``W = I``, ``b = 0``), so the
            untrained model embeds with the backbone's own pooled features (the frozen-feature
            baseline) and training starts from there; needs ``embedding_size == in_features``.

    Shapes:
        input ``[B, C, h, w]`` (pooled) or ``[B, C]`` (used as is) -> output ``[B, E]``.
    """

    def __init__(
        self,
        in_features: int,
        embedding_size: int = 128,
        pooling: str = "avg",
        batch_norm: bool = False,
        normalize: bool | None = True,
        gem_p: float = 3.0,
        identity_init: bool = False,
    ) -> None:
        super().__init__()
        if in_features < 1:  # the pipeline fills it in from the backbone: a bug, not a setting
            raise ValueError(f"EmbeddingHead needs in_features >= 1, got {in_features}")
        check_head_settings(embedding_size, pooling, gem_p)
        self.pool = GlobalPooling(pooling, gem_p=gem_p)
        self.bn = nn.BatchNorm1d(in_features) if batch_norm else nn.Identity()
        self.fc = nn.Linear(in_features, embedding_size)
        if identity_init:
            if embedding_size != in_features:
                raise ConfigError(
                    f"head.identity_init=true needs head.embedding_size equal to the backbone's "
                    f"{in_features} features, got embedding_size={embedding_size}; set "
                    f"head.embedding_size={in_features} or head.identity_init=false"
                )
            with torch.no_grad():
                self.fc.weight.copy_(torch.eye(in_features))
                self.fc.bias.zero_()
        self.in_features = in_features
        self.embedding_size: int = embedding_size
        self.normalize = True if normalize is None else bool(normalize)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Map backbone features ``[B, C, h, w]`` or ``[B, C]`` to embeddings ``[B, E]``."""
        pooled = self.pool(features)
        if pooled.shape[-1] != self.in_features:
            raise ValueError(
                f"EmbeddingHead was built for {self.in_features} input channels but got "
                f"{pooled.shape[-1]}; build it with in_features=backbone.num_features"
            )
        embeddings = self.fc(self.bn(pooled))
        return F.normalize(embeddings, p=2, dim=1) if self.normalize else embeddings
