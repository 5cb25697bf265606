"""``ckpt_path``: find the file, read it safely, and check it fits the model this run builds.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain containers only,
never arbitrary pickled code. Every problem is a one-line :class:`ConfigError`: no such file, not
readable (truncated, corrupt, not PyTorch), not a Lightning checkpoint, weights only where a
resume needs the training state, another architecture (parameter names differ) or other sizes
(e.g. ``head.embedding_size``).

Every checkpoint (``best.ckpt``, ``last.ckpt``, the SIGTERM one) is written by
:class:`AtomicCheckpointIO`: to a temporary file beside its target, flushed to disk, then renamed
over it, so a kill mid-write leaves the previous file whole (and a ``.*.tmp`` that the next resume
removes).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from omegaconf import OmegaConf
from torch import nn

from metriclab.errors import ConfigError
from metriclab.runs.report import atomic_write

HEAD_WEIGHT = "model.head.fc.weight"  # [embedding_size, in_features]
TRAINING_STATE = ("optimizer_states", "loops")


def resolve_ckpt_path(ckpt_path: str | None, output_dir: Path) -> str | None:
    """``None``, ``"last"`` (this run directory's ``checkpoints/last.ckpt``) or a file path."""
    if not ckpt_path:
        return None
    path = output_dir / "checkpoints" / "last.ckpt" if ckpt_path == "last" else Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(
            f"ckpt_path={ckpt_path}: no checkpoint at {path}; to resume a run, pass its folder "
            "(ckpt_path=RUN_DIR), or pass a .ckpt file path"
        )
    return str(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` (on the CPU), read with ``weights_only=True``."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        text = str(exc)
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if unsafe:
            raise ConfigError(
                f"ckpt_path={path} holds a pickled Python object ({unsafe[1]}), which the safe "
                "loader (torch.load weights_only=True) refuses to run; use a checkpoint that "
                "metriclab wrote"
            ) from None
        first = (text.strip().splitlines() or ["empty file"])[0][:160]
        if first.startswith("Weights only load failed"):
            first = "not a PyTorch file"
        raise ConfigError(
            f"ckpt_path={path} is not a readable PyTorch checkpoint ({type(exc).__name__}: "
            f"{first}); the file is truncated or corrupt: use another one (e.g. best.ckpt "
            "beside it) or start a new run without ckpt_path"
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ConfigError(
            f"ckpt_path={path} is not a Lightning checkpoint (no state_dict); pass a .ckpt "
            "file written by a metriclab run (RUN_DIR/checkpoints/last.ckpt or best.ckpt)"
        )
    return checkpoint


def trained_with(path: Path) -> str:
    """``"it was trained with backbone=..., head=..., loss=...; "`` from the checkpoint's run
    directory (``RUN/checkpoints/x.ckpt`` -> ``RUN/.hydra/hydra.yaml``), or ``""``."""
    hydra_yaml = path.resolve().parent.parent / ".hydra" / "hydra.yaml"
    try:
        choices = OmegaConf.load(hydra_yaml).hydra.runtime.choices
        parts = [f"{g}={choices[g]}" for g in ("backbone", "head", "loss") if g in choices]
    except Exception:
        return ""
    return f"it was trained with {', '.join(parts)}; " if parts else ""


def check_compatible(
    checkpoint: dict[str, Any], module: nn.Module, path: str | Path, resume: bool
) -> None:
    """Refuse a checkpoint whose parameters do not match ``module``'s names and shapes."""
    path = Path(path)
    theirs: dict[str, torch.Tensor] = checkpoint["state_dict"]
    ours = module.state_dict()
    missing = [k for k in ours if k not in theirs]
    unknown = [k for k in theirs if k not in ours]
    if missing or unknown:
        examples = ", ".join(f"e.g. {keys[0]}" for keys in (missing, unknown) if keys)
        raise ConfigError(
            f"ckpt_path={path} was saved by another architecture: {len(missing)} of this "
            f"model's tensors are absent from it and {len(unknown)} of its tensors are unknown "
            f"here ({examples}); {trained_with(path)}use the same backbone/head/loss options, "
            "or start a new run without ckpt_path"
        )
    for key, tensor in ours.items():
        saved = theirs[key]
        if tuple(saved.shape) == tuple(tensor.shape):
            continue
        hint = "use the options it was trained with"
        if HEAD_WEIGHT in theirs and theirs[HEAD_WEIGHT].shape[0] != ours[HEAD_WEIGHT].shape[0]:
            size = theirs[HEAD_WEIGHT].shape[0]
            hint = (
                f"its embedding size is {size} but this run's head.embedding_size is "
                f"{ours[HEAD_WEIGHT].shape[0]}: set head.embedding_size={size}"
            )
        raise ConfigError(
            f"ckpt_path={path} does not fit this model: {key} is {list(saved.shape)} in the "
            f"checkpoint but {list(tensor.shape)} here; {trained_with(path)}{hint}, or start a "
            "new run without ckpt_path"
        )
    if resume and not all(k in checkpoint for k in TRAINING_STATE):
        raise ConfigError(
            f"ckpt_path={path} holds weights only (no optimizer or loop state) and cannot resume "
            "training; test it with train=false ckpt_path=PATH, or start a new run"
        )


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to ``.<name>.<random>.tmp`` in the target's folder, ``fsync``, rename."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        atomic_write(path, lambda f: torch.save(checkpoint, f), binary=True, durable=True)


def install_atomic_io(trainer: pl.Trainer) -> None:
    """Give the trainer's strategy :class:`AtomicCheckpointIO` unless one was configured."""
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
