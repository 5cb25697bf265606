"""``callbacks.nonfinite_loss``: a NaN training loss stops the run (naming the step and the last
good checkpoint, exit status 3) or, with ``policy=skip``, skips the step and trains on."""

from __future__ import annotations

from pathlib import Path

import torch
from config_helpers import refused

from metriclab.callbacks.nonfinite_loss import NonFiniteLossGuard
from metriclab.losses import ContrastiveLoss
from metriclab.pipeline import train

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


class NaNAtCall(ContrastiveLoss):
    """The contrastive loss, NaN at the 1-based training calls in ``nan_calls`` (tests only)."""

    def __init__(self, nan_calls=(), **kwargs) -> None:
        super().__init__(**kwargs)
        self.nan_calls, self.calls = set(nan_calls), 0

    def forward(self, *args, **kwargs) -> torch.Tensor:
        loss = super().forward(*args, **kwargs)
        self.calls += 1
        return loss * float("nan") if self.calls in self.nan_calls else loss


def nan_loss(*calls: int) -> list[str]:
    return [
        "loss=contrastive",
        f"loss._target_={__name__}.NaNAtCall",
        f"+loss.nan_calls={list(calls)}",
    ]


def test_a_nan_loss_stops_the_run_and_names_the_step_and_checkpoint(make_cfg, tmp_path, capsys):
    line = refused(make_cfg("trainer.max_epochs=2", *nan_loss(5)), capsys, status=3)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert "loss is nan at epoch 1, batch 1 (global step 4)" in line
    assert (
        f"Last good checkpoint: {last}" in line and "callbacks.nonfinite_loss.policy=skip" in line
    )
    assert torch.load(last, weights_only=True)["global_step"] == 3  # epoch 0's, untouched


def test_a_nan_loss_is_skipped_when_asked(make_cfg, tmp_path):
    _, objects = train(
        make_cfg("trainer.max_epochs=2", "callbacks.nonfinite_loss.policy=skip", *nan_loss(2))
    )
    guard = next(c for c in objects["trainer"].callbacks if isinstance(c, NonFiniteLossGuard))
    assert guard.skipped_steps == [1]
    assert objects["trainer"].global_step == 6  # the skipped step still counts
    assert all(torch.isfinite(p).all() for p in objects["module"].parameters())
    assert (tmp_path / "run" / "metrics.json").is_file()
