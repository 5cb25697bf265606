"""Shared fixtures: the real training config, composed with Hydra and shrunk for tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from config_helpers import TINY, compose_config
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """``make_cfg(*overrides, tiny=True)``: a composed config writing into ``tmp_path/run``."""

    def make(*overrides: str, tiny: bool = True) -> DictConfig:
        return compose_config([*(TINY if tiny else []), *overrides], tmp_path / "run")

    yield make
    GlobalHydra.instance().clear()
