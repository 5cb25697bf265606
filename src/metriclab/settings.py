"""The training module's own settings, and the check that no config key goes unused.

``configs/module/default.yaml`` is the ``_target_`` config of :class:`ModuleSettings` (with
``speed`` and ``distributed`` nested in it), like every other part. :func:`check_arguments` walks
the composed config and refuses, before anything is built, a key of any ``_target_`` node that its
target does not take (``+module.speed.channel_last=true``, a typo in an experiment's ``module:``
block, ``+loss.marginn=0.1``): one :class:`~metriclab.errors.ConfigError` line naming the key, the
target's valid keys and the closest one. Without it, a misspelled setting would be dropped silently
(a ``_partial_`` config only fails when it is called, deep inside training).
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig

from metriclab.errors import ConfigError

HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")


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


def closest(name: str, options: list[str]) -> str:
    """``"; did you mean X?"`` for the option nearest to ``name``, or ``""``."""
    match = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def target_parameters(target: str) -> list[str] | None:
    """The keyword arguments ``target`` takes (``None``: it takes any, or cannot be read)."""
    try:
        params = inspect.signature(get_object(target)).parameters.values()
    except (ValueError, TypeError, ImportError, AttributeError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds]


#: Arguments the pipeline fills in (not the user's to set), by config path.
FILLED_IN = {"optimizer": ("params",)}


def check_arguments(node: Any, path: str = "") -> None:
    """Raise :class:`ConfigError` for a key of a ``_target_`` node its target does not take.

    Args:
        node: the composed config (or a part of it); ``hydra`` is skipped.
        path: the dotted path of ``node`` (for messages).
    """
    if isinstance(node, ListConfig):
        for i, item in enumerate(node):
            check_arguments(item, f"{path}[{i}]")
        return
    if not isinstance(node, DictConfig):
        return
    keys = [str(k) for k in node.keys()]
    target = node._get_node("_target_") if "_target_" in keys else None
    allowed = target_parameters(str(target._value())) if target is not None else None
    if allowed is not None:
        filled = FILLED_IN.get(path, ())
        allowed = [k for k in allowed if k not in filled]
        for key in keys:
            if key in HYDRA_KEYS or key in allowed:
                continue
            where = f"{path}.{key}" if path else key
            raise ConfigError(
                f"{where}: {node._target_} takes no setting {key!r}; "
                f"{path or 'it'} takes {', '.join(allowed)}{closest(key, allowed)}"
            )
    for key in keys:
        if path == "" and key == "hydra":
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig | ListConfig) and not (
            child._is_none() or child._is_missing()
        ):
            check_arguments(child, f"{path}.{key}" if path else key)
