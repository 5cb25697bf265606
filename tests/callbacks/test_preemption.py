"""``callbacks.preemption``: a SIGTERM during training saves ``last.ckpt`` and stops the run with
the line that resumes it (the end-to-end signal and resume: ``tests/pipeline/test_resume.py``)."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from metriclab.callbacks.preemption import Preempted
from metriclab.pipeline import train


class SigtermAt(pl.Callback):
    """Raises Lightning's ``SIGTERMException`` after training batch ``step`` (tests only)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise SIGTERMException


def test_sigterm_saves_last_ckpt_and_names_the_resume(make_cfg, tmp_path) -> None:
    kill = [f"+callbacks.kill._target_={__name__}.SigtermAt", "+callbacks.kill.step=2"]
    with pytest.raises(Preempted) as stopped:
        train(make_cfg("trainer.max_epochs=2", *kill))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    line = str(stopped.value)
    assert f"the last checkpoint is {last} (saved now)" in line
    assert line.endswith(f"resume with: python train.py ckpt_path={tmp_path / 'run'}")
    assert torch.load(last, weights_only=True)["global_step"] == 2
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_without_the_callback_nothing_is_saved(make_cfg, tmp_path) -> None:
    kill = [f"+callbacks.kill._target_={__name__}.SigtermAt", "+callbacks.kill.step=2"]
    with pytest.raises(Preempted) as stopped:
        train(make_cfg("trainer.max_epochs=2", "callbacks.preemption=null", *kill))
    assert "before the first checkpoint" in str(stopped.value)
    assert "nothing to resume" in str(stopped.value)
