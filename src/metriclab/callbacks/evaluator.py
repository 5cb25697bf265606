"""The evaluator callback: embeddings of the val/test split -> retrieval (and NMI) metrics.

It collects what ``validation_step`` / ``test_step`` return, gathers every rank's share, puts the
embeddings back in dataset order by index (dropping the padding a distributed sampler adds),
computes the metrics once on rank 0, shares them with every rank (so checkpointing and early
stopping agree) and logs them as ``<stage>/<metric>``. For query/gallery datasets (In-Shop) the
test loaders are ``[query, gallery]`` and the metrics rank the gallery for each query.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from metriclab.evaluation import clustering_metrics, retrieval_metrics

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


class RetrievalEvaluator(pl.Callback):
    """Logs ``val/…`` after every validation and ``test/…`` after testing.

    Args:
        ks: the ``k`` of ``recall@k``.
        nmi_on_val: also compute NMI (k-means, slower on large sets) at every validation.
        nmi_on_test: compute NMI on the test split.
        seed: the k-means seed.
        prefix_dims: also score the L2-normalised first ``d`` dimensions of the embedding for
            each ``d`` (keys ``<metric>@<d>``, e.g. ``test/recall@1@64``); ``None``: the
            Matryoshka loss's prefixes when training with ``loss=matryoshka`` (set by the
            pipeline), else none.
        recognition: also the open-set recognition protocol of
            :func:`metriclab.evaluation.recognition.recognition_metrics` (closed-set accuracy of
            k-NN and centroid classifiers with 1, 5 and all images enrolled, open-set AUROC,
            precision / coverage at a threshold calibrated for ``target_precision`` on one query
            half and measured on the other), logged as ``<stage>/closed/...`` and
            ``<stage>/openset/...``; needs at least 4 classes in the split.
        target_precision: the precision the recognition threshold is calibrated for.
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
    ) -> None:
        self.recognition, self.target_precision = bool(recognition), float(target_precision)
        self.ks = tuple(int(k) for k in ks)
        self.prefix_dims = None if prefix_dims is None else tuple(int(d) for d in prefix_dims)
        self.nmi = {"val": bool(nmi_on_val), "test": bool(nmi_on_test)}
        self.seed = int(seed)
        self.outputs: dict[int, list[dict[str, torch.Tensor]]] = {}
        self.history: list[tuple[int, dict[str, float]]] = []  # (epoch, val metrics)
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
        self._collect(outputs, dataloader_idx)

    def on_test_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        self._collect(outputs, dataloader_idx)

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
        """The stage's metrics from the collected outputs (all ranks take part)."""
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
            metrics = retrieval_metrics(
                emb,
                labels,
                gallery,
                gallery_labels,
                ks=self.ks,
                on_search=lambda path: self._log_search(stage, path),
            )
            if self.nmi[stage]:
                metrics["nmi"] = clustering_metrics(emb, labels, seed=self.seed)["nmi"]
            if self.recognition and gallery is None and len(np.unique(labels)) >= 4:
                from metriclab.evaluation.recognition import recognition_metrics

                found, _ = recognition_metrics(
                    torch.as_tensor(emb).float().cpu().numpy(),
                    labels,
                    target_precision=self.target_precision,
                    seed=self.seed,
                )
                metrics |= {k: float(v) for k, v in found.items()}
            for d in self.prefix_dims or ():
                if d < emb.shape[1]:
                    metrics |= self.prefix_metrics(d, emb, labels, gallery, gallery_labels)
        metrics = pl_module.trainer.strategy.broadcast(metrics, src=0)
        return {f"{stage}/{k}": float(v) for k, v in metrics.items()}

    def prefix_metrics(self, d: int, emb, labels, gallery, gallery_labels) -> dict[str, float]:
        """Retrieval metrics of the re-normalised ``d``-dimensional prefixes, keyed ``<m>@<d>``."""
        cut = [
            None if x is None else F.normalize(torch.as_tensor(x)[:, :d], dim=1)
            for x in (emb, gallery)
        ]
        found = retrieval_metrics(cut[0], labels, cut[1], gallery_labels, ks=self.ks)
        return {f"{k}@{d}": v for k, v in found.items()}

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
