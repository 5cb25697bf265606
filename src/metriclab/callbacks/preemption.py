"""SIGTERM (SLURM pre-emption, ``scancel``, a shutdown): save ``last.ckpt``, then exit.

Lightning's signal connector turns a SIGTERM during ``fit`` into a ``SIGTERMException`` at the
end of the current batch; :class:`PreemptionCheckpoint` then writes ``checkpoints/last.ckpt``
(atomically, like every checkpoint) with the state after that batch, and the command line prints
one line naming it and the command that resumes (``python train.py ckpt_path=RUN_DIR``) and
exits with 143 (128 + SIGTERM). Such a checkpoint is taken mid-epoch: resuming it finishes the
epoch with the batches the sampler draws again, so the run continues but does not repeat an
uninterrupted one bit for bit (a resume from an epoch-end ``last.ckpt``, after SIGKILL, a crash
or Ctrl-C, does). Ctrl-C (SIGINT) saves nothing new: the line names the epoch-end ``last.ckpt``
and the same command, and the exit status is 130 (128 + SIGINT).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities.exceptions import SIGTERMException

log = logging.getLogger("metriclab")


def last_checkpoint_path(trainer: pl.Trainer) -> Path | None:
    """``<checkpoint dirpath>/last.ckpt`` of the run's ModelCheckpoint (None without one)."""
    for callback in trainer.callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}.ckpt"
    return None


class PreemptionCheckpoint(pl.Callback):
    """On SIGTERM during ``fit``, save ``last.ckpt`` before the process exits."""

    def __init__(self) -> None:
        self.saved_path: Path | None = None

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        path = last_checkpoint_path(trainer)
        if path is None or trainer.sanity_checking:
            return
        trainer.save_checkpoint(path)
        self.saved_path = path
        if trainer.is_global_zero:
            log.info("SIGTERM: saved %s at global step %d", path, trainer.global_step)


class Preempted(BaseException):
    """A SIGTERM stopped the run; the message says what was saved and how to resume.

    A ``BaseException`` like Lightning's ``SIGTERMException``: a sweep stops as a whole (its
    jobs' ``except Exception`` handlers do not swallow it).
    """


@contextmanager
def preemption_exit(trainer: pl.Trainer, run_dir: Path) -> Iterator[None]:
    """Turn Lightning's ``SIGTERMException`` into :class:`Preempted` with the resume line."""
    try:
        yield
    except SIGTERMException:
        saved = next(
            (c.saved_path for c in trainer.callbacks if isinstance(c, PreemptionCheckpoint)), None
        )
        raise Preempted(interrupted_message(run_dir, saved)) from None
    except SystemExit:
        # Lightning answers Ctrl-C (KeyboardInterrupt) with its own sys.exit(1): give the
        # command line back the KeyboardInterrupt (exit 130 and the resume line)
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise


def interrupted_message(run_dir: Path, saved: Path | None, cause: str = "SIGTERM") -> str:
    """The one line printed when ``cause`` (SIGTERM, Ctrl-C) stops the run: the last checkpoint
    (``saved`` now, else the epoch-end ``last.ckpt``) and the command that resumes."""
    from metriclab.runs.resume import resume_command, shown

    last = saved or run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return (
            f"interrupted by {cause} before the first checkpoint ({shown(last)} does not exist): "
            "nothing to resume; start the run again with the same command"
        )
    when = "saved now" if saved is not None else "end of the last finished epoch"
    return (
        f"interrupted by {cause}: the last checkpoint is {shown(last)} ({when}); resume with: "
        f"{resume_command(run_dir)}"
    )
