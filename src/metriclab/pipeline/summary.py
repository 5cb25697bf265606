"""What a run tells the user at the end: the untrained model beside the trained one, the run's
choices, and what to do next.

``python train.py`` first embeds the test split with the untrained model (``test_untrained``,
on by default; carried over from the first start when resuming; skipped when only testing, under
``fast_dev_run`` or a ``limit_test_batches``), then trains and tests the best checkpoint, and
prints::

    +------------------+-----------+---------+
    | data=glyphs backbone=small_cnn loss=circle miner=none |
    | metric           | untrained | trained |
    | test/recall@1    |    0.4020 |  0.8110 |
    ...
    run:  outputs/runs/2026-12-01/10-00-00-000000
    next: tensorboard --logdir outputs/runs/2026-12-01/10-00-00-000000
          python scripts/eval.py ckpt_path=.../checkpoints/best.ckpt

The untrained metrics are written to ``metrics_untrained.json`` beside ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from metriclab.metrics.score import score

#: The config groups the final table names (the run's main choices).
CHOICES = ("data", "backbone", "loss", "miner")


def wants_untrained(cfg: DictConfig, trainer: Any, resuming: bool = False) -> bool:
    """Whether this run measures the untrained model (see the module docstring; a run resumed
    in its own folder measures it when its first start did not write it)."""
    limited = OmegaConf.select(cfg, "trainer.limit_test_batches", default=None)
    return bool(
        cfg.get("test_untrained", True)
        and cfg.get("train", True)
        and cfg.get("test", True)
        and (resuming or not cfg.get("ckpt_path"))
        and not trainer.fast_dev_run
        and limited in (None, 1.0)
        and trainer.is_global_zero
    )


@torch.inference_mode()
def untrained_metrics(
    module: torch.nn.Module,
    datamodule: Any,
    device: torch.device,
    ks: tuple[int, ...],
    nmi: bool,
    embed: Any = None,
) -> dict[str, float]:
    """``test/<metric>`` of ``module`` as it is (before training) on the test split (or query ->
    gallery), embedded in eval mode on ``device`` and scored by
    :func:`metriclab.metrics.score.score` (k-means seed 0); the module goes back to where it was.
    ``embed(module, inputs, indices, dataset)`` embeds a batch as the evaluator does (its
    test-time flips), else ``module(inputs)``."""
    was_training = module.training
    module.to(device).eval()
    parts = []
    for key in datamodule.test_splits:
        embeddings, labels = [], []
        loader = datamodule.eval_dataloader(key)
        for images, batch_labels, indices in loader:
            images = images.to(device)
            if embed is None:
                embeddings.append(module(images).float())
            else:
                embeddings.append(embed(module, images, indices, loader.dataset))
            labels.append(batch_labels.to(device))
        parts.append((torch.cat(embeddings), torch.cat(labels)))
    module.train(was_training)
    module.to("cpu")
    query, query_labels = parts[0]
    gallery, gallery_labels = parts[1] if len(parts) > 1 else (None, None)
    metrics = score(query, query_labels, gallery, gallery_labels, ks=ks, nmi=nmi, seed=0)
    return {f"test/{k}": v for k, v in metrics.items()}


def choices_title(cfg: DictConfig) -> str:
    """``"data=glyphs backbone=small_cnn loss=circle miner=none"`` (Hydra's group choices)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        chosen = dict(HydraConfig.get().runtime.choices)
    else:
        chosen = dict(OmegaConf.select(cfg, "hydra.runtime.choices", default={}) or {})
    parts = [f"{group}={chosen[group]}" for group in CHOICES if chosen.get(group)]
    return " ".join(parts) or "metrics"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def comparison_table(
    trained: Mapping[str, Any], untrained: Mapping[str, float] | None, title: str
) -> str:
    """A plain-text table of ``trained`` (and ``untrained`` beside it, where measured)."""
    columns = ["metric", "untrained", "trained"] if untrained else ["metric", "value"]
    rows = [
        [key, _cell(untrained.get(key)), _cell(value)] if untrained else [key, _cell(value)]
        for key, value in trained.items()
    ]
    widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
    inner = sum(widths) + 3 * (len(widths) - 1)
    widths[0] += max(0, len(title) - inner)  # a long title widens the name column
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    heading = f"| {title:<{sum(widths) + 3 * (len(widths) - 1)}} |"

    def row(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    return "\n".join([line, heading, line, row(columns), line, *map(row, rows), line])


def next_steps(output_dir: Path, best_ckpt: str) -> str:
    """Where the run is and the commands a user runs next."""
    lines = [f"run:  {output_dir}", f"next: tensorboard --logdir {output_dir}"]
    if best_ckpt:
        lines.append(f"      python scripts/eval.py ckpt_path={best_ckpt}")
    return "\n".join(lines)
