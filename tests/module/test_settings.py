"""``module`` (``configs/module/default.yaml``): the training module's settings, built from their
``_target_``; a key that no setting takes is refused with the closest name."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metriclab.commands.arguments import check_arguments
from metriclab.errors import ConfigError
from metriclab.module.settings import DistributedSettings, ModuleSettings, SpeedSettings


def test_the_config_builds_the_dataclass_defaults(make_cfg) -> None:
    assert instantiate(make_cfg().module) == ModuleSettings()
    assert ModuleSettings().speed == SpeedSettings() and ModuleSettings().distributed == (
        DistributedSettings()
    )


def test_overrides_reach_the_settings(make_cfg) -> None:
    cfg = make_cfg("module.backbone_lr_multiplier=0.1", "module.speed.channels_last=true")
    built = instantiate(cfg.module)
    assert built.backbone_lr_multiplier == 0.1 and built.speed.channels_last is True


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("backbone_lr_multiplyer", "backbone_lr_multiplier"),
        ("speed.chanels_last", "channels_last"),
        ("distributed.gather_embedings", "gather_embeddings"),
    ],
)
def test_a_misspelled_setting_is_refused(make_cfg, key: str, hint: str) -> None:
    cfg = OmegaConf.to_container(make_cfg().module)
    node = cfg
    *parents, leaf = key.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = 1
    with pytest.raises(ConfigError, match=f"did you mean {hint}"):
        check_arguments(OmegaConf.create(cfg), "module")


def test_a_negative_feature_cache_is_refused() -> None:
    with pytest.raises(ConfigError, match="module.speed.frozen_feature_cache=-1"):
        SpeedSettings(frozen_feature_cache=-1)
