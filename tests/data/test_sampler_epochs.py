"""Every training epoch of a real ``train(cfg)`` draws new batches from ``(seed, epoch)``.

The batches are recorded by a callback inside the real Lightning ``Trainer`` (not by calling
``set_epoch`` by hand), for each sampler a user can pick, and a resumed run draws the batches
the uninterrupted run drew. The DDP case (disjoint across ranks, new per epoch) is in
``tests/pipeline/test_ddp.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl

from metriclab.pipeline import train

pytestmark = pytest.mark.slow

RECORD = [
    "data=digits",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=1",
    f"+callbacks.recorder._target_={__name__}.BatchRecorder",
]


class BatchRecorder(pl.Callback):
    """Appends ``[epoch, [dataset indices...]]`` of every training batch to ``path`` (tests only).

    Args:
        path: a JSON-lines file; the default is ``batches.jsonl`` in the working directory.
    """

    def __init__(self, path: str = "batches.jsonl") -> None:
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        record = [trainer.current_epoch, trainer.global_rank, batch[2].tolist()]
        with open(self.path, "a") as file:
            file.write(json.dumps(record) + "\n")


def recorded(path: Path) -> dict[int, list[list[int]]]:
    """``{epoch: [batch, ...]}`` from a recorder's file."""
    epochs: dict[int, list[list[int]]] = {}
    for line in path.read_text().splitlines():
        epoch, _, batch = json.loads(line)
        epochs.setdefault(epoch, []).append(batch)
    return epochs


@pytest.mark.parametrize("sampler", ["m_per_class", "random", "null"])
def test_each_epoch_of_a_real_run_draws_new_batches(make_cfg, tmp_path, sampler):
    log = tmp_path / "batches.jsonl"
    cfg = make_cfg(
        *RECORD, f"sampler={sampler}", "trainer.max_epochs=3", f"+callbacks.recorder.path={log}"
    )
    train(cfg)
    epochs = recorded(log)
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
    assert recorded(part) == recorded(whole)
