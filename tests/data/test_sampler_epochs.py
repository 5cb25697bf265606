"""Every training epoch of a real ``train(cfg)`` draws new batches from ``(seed, epoch)``.

The batches are recorded by a callback inside the real Lightning ``Trainer`` (not by calling
``set_epoch`` by hand), for each sampler a user can pick, and a resumed run draws the batches
the uninterrupted run drew. The DDP case (disjoint across ranks, new per epoch) is in
``tests/pipeline/test_ddp.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_recorder import recorded

from metriclab.pipeline import train

pytestmark = pytest.mark.slow

RECORD = [
    "data=digits",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=1",
    "+callbacks.recorder._target_=batch_recorder.BatchRecorder",
]


def by_epoch(path: Path) -> dict[int, list[list[int]]]:
    return {epoch: batches for (epoch, _), batches in recorded(path).items()}


@pytest.mark.parametrize("sampler", ["sampler=m_per_class", "sampler=random", "~sampler"])
def test_each_epoch_of_a_real_run_draws_new_batches(make_cfg, tmp_path, sampler):
    log = tmp_path / "batches.jsonl"  # ~sampler: what the command line's sampler=null becomes
    cfg = make_cfg(*RECORD, sampler, "trainer.max_epochs=3", f"+callbacks.recorder.path={log}")
    train(cfg)
    epochs = by_epoch(log)
    assert sorted(epochs) == [0, 1, 2] and all(len(b) == 4 for b in epochs.values())
    assert epochs[0] != epochs[1] != epochs[2] != epochs[0]


def test_a_resumed_run_draws_the_batches_of_the_uninterrupted_run(make_cfg, tmp_path):
    whole, part = tmp_path / "whole.jsonl", tmp_path / "part.jsonl"
    train(make_cfg(*RECORD, "trainer.max_epochs=3", f"+callbacks.recorder.path={whole}"))
    run_dir = tmp_path / "resumed"
    first = make_cfg(*RECORD, "trainer.max_epochs=1", f"+callbacks.recorder.path={part}")
    first.paths.output_dir = str(run_dir)
    train(first)
    again = make_cfg(
        *RECORD, "trainer.max_epochs=3", "ckpt_path=last", f"+callbacks.recorder.path={part}"
    )
    again.paths.output_dir = str(run_dir)
    train(again)
    assert by_epoch(part) == by_epoch(whole)
