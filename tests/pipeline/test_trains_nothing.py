"""A training run that would train nothing (``trainer.max_epochs=0``, ``max_steps=0``,
``limit_train_batches=0``) is refused with a pointer to ``train=false``: its "trained" column
would repeat the untrained one and ``status.json`` would say completed."""

from __future__ import annotations

import pytest
from config_helpers import TINY, one_error_line, run_train

from metriclab.build import build_trainer
from metriclab.errors import ConfigError


@pytest.mark.parametrize(
    "setting", ["trainer.max_epochs=0", "+trainer.max_steps=0", "trainer.limit_train_batches=0.0"]
)
def test_a_trainer_that_trains_nothing_is_refused(make_cfg, setting):
    key = setting.lstrip("+")
    with pytest.raises(ConfigError, match=rf"^{key} trains nothing: .*train=false"):
        build_trainer(make_cfg(setting), callbacks=[], loggers=[])
    build_trainer(make_cfg(setting, "train=false"), callbacks=[], loggers=[])


@pytest.mark.slow
def test_zero_epochs_is_refused_by_train_py(tmp_path):
    result = run_train(*TINY, "trainer.max_epochs=0", cwd=tmp_path)
    error = one_error_line(result)
    assert error == result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: trainer.max_epochs=0 trains nothing") and "train=false" in error
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "a refused run left files"
