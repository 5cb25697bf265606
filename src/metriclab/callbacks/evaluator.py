"""The evaluator callback: embeddings of the val/test split -> retrieval (and NMI) metrics.

It collects what ``validation_step`` / ``test_step`` return, gathers every rank's share, puts the
embeddings back in dataset order by index (dropping the padding a distributed sampler adds),
computes the metrics once on rank 0, shares them with every rank (so checkpointing and early
stopping agree) and logs them as ``<stage>/<metric>``. For query/gallery datasets (In-Shop) the
test loaders are ``[query, gallery]`` and the metrics rank the gallery for each query.

``flip=true`` (test-time flips) embeds every evaluated image twice, as it is and mirrored left to
right, and scores ``e = normalize(f(x) + f(mirror(x)))`` (the mean of the two embeddings,
re-normalised): :meth:`RetrievalEvaluator.embed`. Under the frozen-feature cache
(``module.speed.frozen_feature_cache``) the evaluated inputs are the frozen stages' output of the
unmirrored image; the frozen stages then run once more over each evaluation split's mirrored
images (cached for the run) and the mirrored view continues from that cut.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from metriclab.data.feature_cache import FeatureDataset, prefix_outputs
from metriclab.metrics.score import score

log = logging.getLogger("metriclab")
#: The validation metrics the progress bar shows (the rest are in the logs and the final table).
PROGRESS_BAR_KEYS = ("val/recall@1", "val/map@r")
# Every rank logs the same (broadcast) values, so Lightning's advice to sync them does not apply.
warnings.filterwarnings("ignore", message=r".*when logging on epoch level in distributed setting.*")


def restore_order(
    embeddings: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """``[N', D], [N'], [N']`` in any order, with repeats -> ``[N, D], [N]`` by dataset index."""
    idx = indices.cpu().numpy()
    _, first = np.unique(idx, return_index=True)  # sorted by index, one row per index
    return embeddings.cpu().numpy()[first], labels.cpu().numpy()[first]


def restore_order_on_device(
    embeddings: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
) -> tuple[torch.Tensor, np.ndarray]:
    """:func:`restore_order` with the embeddings left on their device (the k-NN search runs
    there: no host round trip): ``[N, D]`` tensor, ``[N]`` numpy labels."""
    _, first = np.unique(indices.cpu().numpy(), return_index=True)
    keep = torch.from_numpy(first).to(embeddings.device)
    return embeddings[keep], labels.cpu().numpy()[first]


def flip_averaged(model: Callable[[torch.Tensor], torch.Tensor]) -> Callable:
    """``model`` with test-time flips: ``x [B, C, H, W] -> normalize(model(x) + model(x'))``,
    ``x'`` mirrored left to right (``scripts/eval.py`` of a run with ``flip=true``)."""

    def embed(images: torch.Tensor) -> torch.Tensor:
        return F.normalize(model(images).float() + model(images.flip(-1)).float(), dim=1)

    return embed


class _Mirrored(Dataset):
    """``dataset``'s ``(image [C, H, W], label, index)`` items with the image mirrored (W)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        image, label, item = self.dataset[index]
        return image.flip(-1), label, item


class RetrievalEvaluator(pl.Callback):
    """Logs ``val/…`` after every validation and ``test/…`` after testing.

    Args:
        ks: the ``k`` of ``recall@k``.
        nmi_on_val: also compute NMI (k-means, slower on large sets) at every validation.
        nmi_on_test: compute NMI on the test split.
        seed: the k-means seed.
        prefix_dims: also score the L2-normalised first ``d`` dimensions of the embedding for
            each ``d`` (keys ``<metric>@<d>``, e.g. ``test/recall@1@64``); ``None``: none, but
            a run's evaluator is built by :func:`metriclab.build.build_evaluator`, which gives
            it the Matryoshka loss's prefixes (``loss=matryoshka``) for ``None``.
        recognition: also the open-set recognition protocol of
            :func:`metriclab.recognition.metrics.recognition_metrics` (closed-set accuracy of
            k-NN and centroid classifiers with 1, 5 and all images enrolled, open-set AUROC,
            precision / coverage at a threshold calibrated for ``target_precision`` on one query
            half and measured on the other), logged as ``<stage>/closed/...`` and
            ``<stage>/openset/...``; needs at least 4 classes in the split.
        target_precision: the precision the recognition threshold is calibrated for.
        flip: test-time flips: score ``normalize(f(x) + f(mirror(x)))`` (:meth:`embed`); twice
            the evaluation cost.
    """

    def __init__(
        self,
        ks: tuple[int, ...] = (1, 2, 4, 8),
        nmi_on_val: bool = False,
        nmi_on_test: bool = True,
        seed: int = 0,
        prefix_dims: tuple[int, ...] | None = None,
        recognition: bool = False,
        target_precision: float = 0.95,
        flip: bool = False,
    ) -> None:
        self.flip = bool(flip)
        self._mirrors: dict[int, tuple[Dataset, torch.Tensor]] = {}  # the mirrored cuts
        self.recognition, self.target_precision = bool(recognition), float(target_precision)
        self.ks = tuple(int(k) for k in ks)
        self.prefix_dims = None if prefix_dims is None else tuple(int(d) for d in prefix_dims)
        self.nmi = {"val": bool(nmi_on_val), "test": bool(nmi_on_test)}
        self.seed = int(seed)
        self.outputs: dict[int, list[dict[str, torch.Tensor]]] = {}
        self.history: list[tuple[int, dict[str, float]]] = []  # (epoch, val metrics)
        #: The hand-off to ``metrics.json``: stage -> the metrics of its last evaluation, as
        #: computed (float64; Lightning's logged copies are float32).
        self.results: dict[str, dict[str, float]] = {}
        # loader -> (embeddings [N, D], labels [N], dataset indices [N]) of the last evaluation
        self.gathered: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.search_paths: dict[str, str] = {}  # stage -> the k-NN search that ran (logged once)

    # ------------------------------------------------------------ collection
    def _reset(self) -> None:
        self.outputs = {}

    def _collect(self, outputs: Any, dataloader_idx: int) -> None:
        self.outputs.setdefault(dataloader_idx, []).append(
            {k: v.detach() for k, v in outputs.items()}
        )

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._reset()

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._reset()

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        loaders = trainer.val_dataloaders
        outputs = self._flipped(loaders, pl_module, outputs, batch, dataloader_idx)
        self._collect(outputs, dataloader_idx)

    def on_test_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        loaders = trainer.test_dataloaders
        outputs = self._flipped(loaders, pl_module, outputs, batch, dataloader_idx)
        self._collect(outputs, dataloader_idx)

    # ------------------------------------------------------- test-time flips
    def _flipped(self, loaders, pl_module, outputs, batch, dataloader_idx: int) -> Any:
        """``outputs`` with the flip-averaged embeddings when ``flip`` (else as they are)."""
        if not self.flip:
            return outputs
        loaders = loaders if isinstance(loaders, list | tuple) else [loaders]
        dataset = loaders[dataloader_idx].dataset
        inputs, _, indices = batch
        both = self.embed(pl_module, inputs, indices, dataset, outputs["embeddings"])
        return {**outputs, "embeddings": both}

    @torch.no_grad()
    def embed(
        self,
        module: torch.nn.Module,
        inputs: torch.Tensor,
        indices: torch.Tensor,
        dataset: Dataset,
        embeddings: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The evaluated embeddings of one batch: ``module(inputs)`` ``[B, D]``, or with
        ``flip``, ``normalize(module(x) + module(mirror(x)))``.

        Args:
            module: the model (or the LightningModule), in eval mode.
            inputs: the batch's images ``[B, C, H, W]``, or their cached cut while the model
                starts from it (``model.from_cut``).
            indices: the items' dataset indices ``[B]`` (where the mirrored cut is looked up).
            dataset: the dataset the batch came from.
            embeddings: ``module(inputs)`` when already computed.
        """
        if embeddings is None:
            embeddings = module(inputs)
        if not self.flip:
            return embeddings.float()
        mirrored = module(self._mirrored(module, inputs, indices, dataset))
        return F.normalize(embeddings.float() + mirrored.float(), dim=1)

    def _mirrored(self, module, inputs, indices, dataset: Dataset) -> torch.Tensor:
        """The mirrored inputs: the images flipped, or the frozen stages' output of the
        mirrored images (computed once per split, over the whole split)."""
        model = getattr(module, "model", module)
        if not getattr(model, "from_cut", False):
            return inputs.flip(-1)
        if not isinstance(dataset, FeatureDataset):
            raise TypeError(f"a model starting from the cut evaluates a {type(dataset).__name__}")
        held = self._mirrors.get(id(dataset))
        if held is None or held[0] is not dataset:
            cut = prefix_outputs(
                model.backbone.frozen_prefix(),
                _Mirrored(dataset.base),
                1,
                max(1, len(inputs)),
                inputs.device,
                dataset.features.dtype,
                bool(getattr(module, "channels_last", False)),
                "caching mirrored images",
            )[0]
            log.info("evaluator.flip: the frozen stages ran on %d mirrored images", len(cut))
            held = self._mirrors[id(dataset)] = (dataset, cut)
        picked = held[1][indices.to("cpu")].to(inputs.device, torch.float32)
        if inputs.is_contiguous(memory_format=torch.channels_last) and picked.ndim == 4:
            picked = picked.contiguous(memory_format=torch.channels_last)
        return picked

    # ----------------------------------------------------------- computation
    def _gathered(self, pl_module: pl.LightningModule, loader: int) -> tuple[Any, np.ndarray]:
        parts = self.outputs.get(loader, [])
        emb = torch.cat([p["embeddings"] for p in parts])
        labels = torch.cat([p["labels"] for p in parts])
        indices = torch.cat([p["indices"] for p in parts])
        if pl_module.trainer.world_size > 1:
            emb, labels, indices = (
                pl_module.all_gather(t).flatten(0, 1) for t in (emb, labels, indices)
            )
        ordered = restore_order(emb, labels, indices)
        self.gathered[loader] = (*ordered, np.unique(indices.cpu().numpy()))
        return restore_order_on_device(emb, labels, indices)

    def _log_search(self, stage: str, path: str) -> None:
        if self.search_paths.get(stage) != path:
            log.info("%s retrieval metrics: k-NN search %s", stage, path)
        self.search_paths[stage] = path

    def compute(self, stage: str, pl_module: pl.LightningModule) -> dict[str, float]:
        """The stage's metrics from the collected outputs (all ranks take part), scored by
        :func:`metriclab.metrics.score.score` on rank 0 and shared with every rank."""
        loaders = sorted(self.outputs)
        if loaders == [0]:
            emb, labels = self._gathered(pl_module, 0)
            gallery = gallery_labels = None
        else:  # query / gallery
            (emb, labels), (gallery, gallery_labels) = (
                self._gathered(pl_module, i) for i in loaders[:2]
            )
        metrics: dict[str, float] = {}
        if pl_module.trainer.is_global_zero:
            metrics = score(
                emb,
                labels,
                gallery,
                gallery_labels,
                ks=self.ks,
                nmi=self.nmi[stage],
                seed=self.seed,
                prefix_dims=self.prefix_dims or (),
                on_search=lambda path: self._log_search(stage, path),
            )
            if self.recognition and gallery is None and len(np.unique(labels)) >= 4:
                from metriclab.recognition.metrics import recognition_metrics

                found, _ = recognition_metrics(
                    torch.as_tensor(emb).float().cpu().numpy(),
                    labels,
                    target_precision=self.target_precision,
                    seed=self.seed,
                )
                metrics |= {k: float(v) for k, v in found.items()}
        metrics = pl_module.trainer.strategy.broadcast(metrics, src=0)
        return {f"{stage}/{k}": float(v) for k, v in metrics.items()}

    def _finish(self, stage: str, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not self.outputs:
            self._reset()
            return
        metrics = self.compute(stage, pl_module)
        self._reset()
        # logged at trainer.global_step (Lightning would use one less in fit), as the dashboards;
        # the progress bar shows R@1 and MAP@R under the names the logs and tables use
        shown = {k: v for k, v in metrics.items() if k in PROGRESS_BAR_KEYS}
        rest = {k: v for k, v in metrics.items() if k not in shown}
        pl_module.log_dict(shown, sync_dist=False, prog_bar=stage == "val")
        pl_module.log_dict({**rest, "step": float(trainer.global_step)}, sync_dist=False)
        self.results[stage] = metrics
        if stage == "val":
            self.history.append((trainer.current_epoch, metrics))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._finish("val", trainer, pl_module)

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        self._finish("test", trainer, pl_module)

    def best_epoch(self, monitor: str, mode: str = "max") -> int | None:
        """The last epoch with the best value of ``monitor`` (what
        :class:`~metriclab.callbacks.model_checkpoint.BestCheckpoint` keeps)."""
        scored = [(epoch, m[monitor]) for epoch, m in self.history if monitor in m]
        if not scored:
            return None
        pick = max if mode == "max" else min
        best = pick(v for _, v in scored)
        return [epoch for epoch, v in scored if v == best][-1]

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
