"""A callback that records the dataset indices of every training batch (imported as
``batch_recorder`` by the sampler tests; a module of its own so DDP's spawned ranks import it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl


class BatchRecorder(pl.Callback):
    """Appends ``[epoch, global rank, [dataset indices...]]`` of every training batch to ``path``.

    Args:
        path: a JSON-lines file (every rank appends its own lines).
    """

    def __init__(self, path: str = "batches.jsonl") -> None:
        self.path = str(path)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        record = [trainer.current_epoch, trainer.global_rank, batch[2].tolist()]
        with open(self.path, "a") as file:
            file.write(json.dumps(record) + "\n")


def recorded(path: Path) -> dict[tuple[int, int], list[list[int]]]:
    """``{(epoch, rank): [batch, ...]}`` from a recorder's file."""
    batches: dict[tuple[int, int], list[list[int]]] = {}
    for line in Path(path).read_text().splitlines():
        epoch, rank, batch = json.loads(line)
        batches.setdefault((epoch, rank), []).append(batch)
    return batches
