"""The command line's checks: no config key goes unused, moved keys are named, types are right.

``configs/module/default.yaml`` is the ``_target_`` config of :class:`ModuleSettings` (with
``speed`` and ``distributed`` nested in it), like every other part. :func:`check_arguments` walks
the composed config and refuses, before anything is built, a key of any ``_target_`` node that its
target does not take (``+module.speed.channel_last=true``, a typo in an experiment's ``module:``
block, ``+loss.marginn=0.1``): one :class:`~metriclab.errors.ConfigError` line naming the key, the
target's valid keys and the closest one. Without it, a misspelled setting would be dropped silently
(a ``_partial_`` config only fails when it is called, deep inside training).

At the top level, :func:`check_top_level` refuses a key that no part of the program reads
(``+foo.bar=1``; a key is read when it is a config group, i.e. a folder of ``configs/``, or one of
:data:`TOP_LEVEL_SETTINGS`), names the new home of a key that moved (:data:`MOVED`, e.g.
``speed.channels_last`` -> ``module.speed.channels_last``) and checks the types of the top-level
settings (``seed=abc``).
"""

from __future__ import annotations

import inspect
from functools import cache
from pathlib import Path
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from metriclab.errors import ConfigError, closest

HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")


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


#: Top-level settings of ``configs/train.yaml`` and their types (``seed=abc`` is refused).
TOP_LEVEL_SETTINGS: dict[str, tuple[type, ...]] = {
    "task_name": (str,),
    "seed": (int,),
    "optimized_metric": (str,),
    "ckpt_path": (str, type(None)),
    "train": (bool,),
    "test": (bool,),
    "test_untrained": (bool,),
}

#: Keys that moved, old dotted prefix -> new one (a user of an older README still types them).
MOVED: dict[str, str] = {
    "speed": "module.speed",
    "distributed": "module.distributed",
    "backbone_lr_multiplier": "module.backbone_lr_multiplier",
    "optimizer.backbone_lr_multiplier": "module.backbone_lr_multiplier",
    "on_nonfinite_loss": "callbacks.nonfinite_loss.policy",
}


def moved_to(key: str) -> str | None:
    """The new dotted name of ``key`` if it (or a prefix of it) moved, else ``None``."""
    for old, new in MOVED.items():
        if key == old or key.startswith(old + "."):
            return new + key[len(old) :]
    return None


def moved_line(cfg: DictConfig, old: str) -> str:
    """``speed.channel_last: speed moved to module.speed; did you mean
    module.speed.channels_last?`` (the closest key at the new place)."""
    new = str(moved_to(old))
    parent, _, leaf = new.rpartition(".")
    node = OmegaConf.select(cfg, parent, default=None) if parent else None
    keys = node.keys() if isinstance(node, DictConfig) else []
    valid = [str(k) for k in keys if not str(k).startswith("_")]
    if not valid or leaf in valid:
        return f"{old}: this setting moved to {new}; write {new}=... instead"
    prefix = next(o for o in MOVED if old == o or old.startswith(o + "."))
    hint = closest(leaf, valid).replace("did you mean ", f"did you mean {parent}.")
    return (
        f"{old}: {prefix} moved to {MOVED[prefix]}, which has {', '.join(valid)}"
        f"{hint or '; write ' + parent + '.KEY=... instead'}"
    )


@cache
def config_groups() -> frozenset[str]:
    """The config groups that are keys of the composed config: the folders of ``configs/``
    except those whose options all write at the top level (``experiment``, ``debug``...)."""
    config_dir = Path(__file__).resolve().parents[1] / "configs"
    groups = set()
    for folder in config_dir.iterdir():
        options = list(folder.glob("*.yaml")) if folder.is_dir() else []
        if not all("@package _global_" in p.read_text(encoding="utf-8") for p in options):
            groups.add(folder.name)
    return frozenset(groups | {"hydra", "paths"})


def check_top_level(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for a top-level key nothing reads, or a top-level setting of
    the wrong type (``seed=abc``)."""
    known = sorted(config_groups() | set(TOP_LEVEL_SETTINGS))
    for key in (str(k) for k in cfg.keys()):
        if key in known:
            continue
        leaves = _leaf_keys(cfg._get_node(key), key)
        old = next((leaf for leaf in leaves if moved_to(leaf)), None)
        if old is not None:
            raise ConfigError(moved_line(cfg, old))
        raise ConfigError(
            f"{leaves[0]}: no part of metriclab reads the top-level key {key!r}; the top-level "
            f"keys are {', '.join(known)}{closest(key, known)}"
        )
    for key, types in TOP_LEVEL_SETTINGS.items():
        if key not in cfg or cfg._get_node(key)._is_missing():
            continue
        try:
            value = cfg[key]
        except Exception:  # noqa: BLE001 - an interpolation only Hydra's job resolves
            continue
        if bool not in types and isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ConfigError(f"{key}={value!r} must be {wanted} (e.g. {key}={_EXAMPLES[key]})")


_EXAMPLES = {
    "task_name": "train",
    "seed": "42",
    "optimized_metric": "val/map@r",
    "ckpt_path": "RUN_DIR",
    "train": "false",
    "test": "false",
    "test_untrained": "false",
}


def _leaf_keys(node: Any, path: str) -> list[str]:
    """The dotted paths of ``node``'s leaves (``[path]`` for a value)."""
    if isinstance(node, DictConfig) and not node._is_none() and len(node):
        return [leaf for k in node.keys() for leaf in _leaf_keys(node._get_node(k), f"{path}.{k}")]
    return [path]


def check_arguments(node: Any, path: str = "") -> None:
    """Raise :class:`ConfigError` for a key of a ``_target_`` node its target does not take
    (and, for the whole config, :func:`check_top_level`).

    Args:
        node: the composed config (or a part of it); ``hydra`` is skipped.
        path: the dotted path of ``node`` (for messages).
    """
    if path == "" and isinstance(node, DictConfig):
        check_top_level(node)
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
            if moved_to(where):
                raise ConfigError(f"{where}: this setting moved to {moved_to(where)}")
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
