"""A loss or miner built from its config group as the pipeline builds it, fast (imported as
``config_build``): each ``configs/<group>/<option>.yaml`` is composed once, then settings are
applied to a copy, so a test of many values does not pay Hydra's composition for each."""

from __future__ import annotations

import copy
import functools

from config_helpers import CONFIGS
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from metriclab.build import build_loss

NUM_CLASSES, EMBEDDING_SIZE = 5, 16  # matryoshka: prefixes [1, 2, 4, 8, 16]


@functools.cache
def composed(group: str, option: str, extra: tuple[str, ...] = ()) -> DictConfig:
    """``configs/<group>/<option>.yaml`` composed once (``extra``: group choices inside it)."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name=f"{group}/{option}", overrides=list(extra))


def build(group: str, overrides: list[str], m: int = 4, batch_size: int = 16, train: bool = True):
    """``loss`` as the pipeline builds it (``build_loss``: sizes filled in, checked against
    ``sampler.m=m`` batches of ``batch_size``), or ``miner`` from its config.

    ``overrides[0]`` is ``group=option``; then ``key=value`` settings (parsed as Hydra parses
    them) and group choices inside the option (``loss@loss.metric=circle``, ``loss/distance=...``).
    """
    option = overrides[0].split("=", 1)[1]
    choices = tuple(o for o in overrides[1:] if "@" in o or "/" in o.split("=")[0])
    cfg = copy.deepcopy(composed(group, option, choices))
    settings = [o for o in overrides[1:] if o not in choices]
    for override in OverridesParser.create().parse_overrides(settings):
        with open_dict(cfg):
            OmegaConf.update(cfg, override.key_or_group, override.value(), merge=False)
    if group == "miner":
        return instantiate(cfg.miner)
    run = {"sampler": {"m": m}, "data": {"batch_size": batch_size}, "train": train}
    return build_loss(OmegaConf.merge(OmegaConf.create(run), cfg), NUM_CLASSES, EMBEDDING_SIZE)
