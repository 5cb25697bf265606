"""The training module's own settings: :class:`ModuleSettings` (``configs/module/default.yaml``,
the ``_target_`` of the ``module`` group), with ``speed`` and ``distributed`` nested in it."""

from __future__ import annotations

from dataclasses import dataclass, field

from metriclab.errors import ConfigError


@dataclass(frozen=True)
class SpeedSettings:
    """``module.speed``: how the model runs.

    Args:
        channels_last: NHWC images and weights (faster convolutions with AMP, and on CPUs).
        compile: ``torch.compile`` the embedding model (slow start, faster steps).
        frozen_feature_cache: 0 (off), or ``V``: run the backbone's frozen stages once, on
            ``V`` augmented views of each training image and on each evaluation image, and
            train from their cached output (:mod:`metriclab.data.feature_cache`).
        frozen_feature_dtype: ``"bfloat16"`` or ``"float32"``, the cache's precision.
    """

    channels_last: bool = False
    compile: bool = False
    frozen_feature_cache: int = 0
    frozen_feature_dtype: str = "bfloat16"

    def __post_init__(self) -> None:
        if int(self.frozen_feature_cache) < 0:
            raise ConfigError(
                f"module.speed.frozen_feature_cache={self.frozen_feature_cache} must be 0 (off) or "
                "the number of augmented views to cache per training image (e.g. 2)"
            )


@dataclass(frozen=True)
class DistributedSettings:
    """``module.distributed``: what the loss sees under DDP.

    Args:
        gather_embeddings: gather every rank's embeddings, so the loss and miner see the global
            batch (the loss equals one process's loss on the concatenated batch).
        mine_locally: mine each rank's part only (indices offset into the global batch).
    """

    gather_embeddings: bool = True
    mine_locally: bool = False


@dataclass(frozen=True)
class ModuleSettings:
    """``module``: the training module's settings (``configs/module/default.yaml``).

    Args:
        backbone_lr_multiplier: the backbone's parameter group learns at
            ``optimizer.lr * backbone_lr_multiplier`` (the head at ``optimizer.lr``, a loss's
            proxies at ``optimizer.lr * loss.lr_multiplier``).
        speed: :class:`SpeedSettings`.
        distributed: :class:`DistributedSettings`.
    """

    backbone_lr_multiplier: float = 1.0
    speed: SpeedSettings = field(default_factory=SpeedSettings)
    distributed: DistributedSettings = field(default_factory=DistributedSettings)
