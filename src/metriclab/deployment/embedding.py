"""Embedding images with a model: a dataset split, or image files from disk.

``embed(model, dataset)`` runs any ``[B, C, H, W] -> [B, D]`` callable (the eager model, a
TorchScript module) over a dataset of ``(image, label, index)`` items with a progress bar and
returns ``float32 [N, D]`` embeddings and ``int64 [N]`` labels in dataset order (NumPy arrays, or
with ``on_device=True`` tensors left where the model ran).
:class:`ImageFiles` is such a dataset over files (a folder of class folders gets labels).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from metriclab.data import MetricDataModule
from metriclab.data.dataset import MetricDataset
from metriclab.data.images import IMAGE_EXTENSIONS, UnreadableImageError, load_image
from metriclab.data.transforms import build_transform
from metriclab.errors import ConfigError

#: The options of ``MetricDataModule`` that fix the test-time transform.
TRANSFORM_KEYS = (
    "image_size",
    "resize_size",
    "resize",
    "train_augment",
    "mean",
    "std",
    "channels",
)


def transform_spec(data_cfg: Any) -> dict[str, Any]:
    """The test-time transform options of a data config (missing keys: the datamodule's
    defaults), as plain JSON values."""
    defaults = inspect.signature(MetricDataModule).parameters
    spec = {k: data_cfg.get(k, defaults[k].default) for k in TRANSFORM_KEYS}
    return {
        k: list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v
        for k, v in spec.items()
    }


def eval_transform(spec: dict[str, Any]) -> Callable:
    """The PIL -> ``[C, S, S]`` tensor transform described by :func:`transform_spec`."""
    # an index exported before data.resize existed has no "resize": it was "shorter_side"
    options = {k: spec[k] for k in TRANSFORM_KEYS if k != "channels" and k in spec}
    return build_transform(train=False, **options)


def list_images(path: str | os.PathLike) -> list[str]:
    """``path`` itself (an image file) or every image file under the folder, sorted."""
    top = Path(path).expanduser()
    if top.is_file():
        return [os.path.abspath(top)]  # absolute, symlinks kept: paths stay under the folder
    if not top.is_dir():
        raise ConfigError(f"{path} is neither an image file nor a folder; pass one of those")
    files = sorted(
        os.path.abspath(Path(folder, name))
        for folder, _, names in os.walk(top)
        for name in names
        if name.lower().endswith(IMAGE_EXTENSIONS)
    )
    if not files:
        raise ConfigError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {path}")
    return files


def folder_labels(files: Sequence[str], root: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
    """Labels from the first folder under ``root`` (``root/<class>/...``): ``int64 [N]`` and the
    sorted class names; ``-1`` for files directly in ``root``."""
    top = Path(os.path.abspath(Path(root).expanduser()))
    parts = [Path(f).relative_to(top).parts if top.is_dir() else () for f in files]
    names = sorted({p[0] for p in parts if len(p) > 1})
    ids = {n: i for i, n in enumerate(names)}
    return np.array([ids[p[0]] if len(p) > 1 else -1 for p in parts], dtype=np.int64), names


def read_image(path: str, mode: str = "RGB", fix: str = "replace or delete it"):
    """:func:`~metriclab.data.images.load_image` for a script's own input files: an unreadable
    one is one line naming the file, the reason and ``fix`` (a training run's hint,
    ``data.skip_unreadable``, does not apply to them)."""
    try:
        return load_image(path, mode=mode)
    except UnreadableImageError as exc:
        prefix = f"cannot read image {path}: "
        text = str(exc)
        reason = text[len(prefix) :].split("; ")[0] if text.startswith(prefix) else text
        raise UnreadableImageError(f"{prefix}{reason}; {fix}") from None


class ImageFiles(Dataset):
    """Image files as ``(image [C, S, S], label, index)`` items through ``transform``.

    ``option``: the command-line option the files came from (``query``, ``gallery``, ``add``,
    ``calibrate``), named in the one-line error for an unreadable file."""

    def __init__(
        self,
        files: Sequence[str],
        labels: np.ndarray | None,
        transform: Callable,
        channels: int,
        option: str = "",
    ) -> None:
        self.files = list(files)
        self.labels = np.full(len(files), -1) if labels is None else np.asarray(labels)
        self.transform = transform
        self.mode = "L" if channels == 1 else "RGB"
        self.fix = "replace or delete it" + (f", or leave it out of {option}=" if option else "")

    def __len__(self) -> int:
        return len(self.files)

    def image(self, index: int):
        return read_image(self.files[index], self.mode, self.fix)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        return self.transform(self.image(index)), int(self.labels[index]), int(index)


def item_names(dataset: MetricDataset | ImageFiles, prefix: str) -> list[str]:
    """What names each item: its file path, or ``"<prefix>/<index>"`` for in-memory images."""
    items = dataset.files if isinstance(dataset, ImageFiles) else dataset.split.items
    if isinstance(items, np.ndarray):
        return [f"{prefix}/{i}" for i in range(len(items))]
    return [str(p) for p in items]


@torch.inference_mode()
def embed(
    model: Callable[[torch.Tensor], torch.Tensor],
    dataset: Dataset,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    progress: bool = True,
    desc: str = "embed",
    on_device: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
    """``model`` over every item in order: ``float32 [N, D]`` embeddings, ``int64 [N]`` labels,
    as NumPy arrays; ``on_device=True``: as tensors left on ``device`` (a search on the GPU then
    needs no copy to the host and back)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    chunks, labels = [], []
    for images, batch_labels, _ in tqdm(loader, desc=desc, disable=not progress, leave=False):
        chunks.append(model(images.to(device)).float())
        labels.append(batch_labels.to(device))
    embeddings, label_ids = torch.cat(chunks), torch.cat(labels).long()
    if on_device:
        return embeddings, label_ids
    return embeddings.cpu().numpy(), label_ids.cpu().numpy()
