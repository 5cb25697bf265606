"""``python scripts/eval.py ckpt_path=PATH [options] [config overrides]``: evaluate a checkpoint.

Rebuilds the model from the run's saved config (``RUN_DIR/.hydra/config.yaml``, overrides such as
``data=cub data.root=DIR`` applied), loads the checkpoint, embeds the chosen split with a progress
bar and computes the retrieval metrics (and NMI/AMI). Writes, into
``RUN_DIR/eval/<checkpoint>-<data>-<split>/`` (or ``out=DIR``), so the training run's own
``metrics.json`` is never overwritten:

- ``metrics.json``: ``<split>/recall@k``, ``<split>/precision@1``, ``<split>/r_precision``,
  ``<split>/map@r``, ``<split>/nmi``, ``<split>/ami``, ``embed_time_s``, ``eval_time_s``;
- with ``save_embeddings=true``, per embedded part (``test``, or ``query`` and ``gallery``):
  ``<part>_embeddings.npy`` (``float32 [N, D]``), ``<part>_labels.npy`` (``int64 [N]``) and
  ``<part>_items.json`` (the image paths, or ``<part>/<index>`` for in-memory datasets).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from metriclab.callbacks.evaluator import flip_averaged
from metriclab.commands import app
from metriclab.commands.openset_eval import openset_metrics
from metriclab.deployment.embedding import embed, item_names
from metriclab.deployment.loading import (
    Run,
    build_eval_datamodule,
    load_model,
    open_run,
    pick_device,
)
from metriclab.errors import ConfigError
from metriclab.metrics.score import score
from metriclab.runs.report import metrics_table, write_json_atomic

#: The command's primary config, ``configs/eval.yaml`` (its settings and their defaults).
CONFIG = "eval"


def evaluate_run(run: Run, options: dict[str, Any]) -> tuple[dict[str, float], Path]:
    """Embed ``options["split"]`` of the run's data, compute the metrics, write the outputs;
    return ``(metrics, output folder)``."""
    split = options["split"]
    datamodule = build_eval_datamodule(run.cfg)
    parts = datamodule.test_splits if split == "test" else [split]
    missing = [p for p in parts if p not in datamodule.datasets]
    if missing:
        raise ConfigError(
            f"split={split}: the data has no {missing[0]} split (it has "
            f"{', '.join(datamodule.datasets)}); choose one of those"
        )
    device = pick_device(options["device"])
    model = load_model(run, device)
    if OmegaConf.select(run.cfg, "callbacks.evaluator.flip", default=False):
        model = flip_averaged(model)  # the run's test-time flips (callbacks.evaluator.flip)
    batch = options["batch_size"] or datamodule.eval_batch_size
    workers = datamodule.num_workers if options["num_workers"] < 0 else options["num_workers"]
    start = time.perf_counter()
    on_device = {  # the search runs where the model ran, with no copy to the host and back
        part: embed(
            model,
            datamodule.datasets[part],
            batch,
            device,
            workers,
            options["progress"],
            part,
            on_device=True,
        )
        for part in parts
    }
    embed_time = time.perf_counter() - start
    (query_t, q_labels_t), (gallery_t, g_labels_t) = on_device[parts[0]], on_device[parts[-1]]
    if len(parts) == 1:
        gallery_t = g_labels_t = None
    metrics = score(  # retrieval on the model's device (CUDA: the GPU), k-means NMI/AMI
        query_t,
        q_labels_t,
        gallery_t,
        g_labels_t,
        nmi=options["nmi"],
        ami=options["nmi"],
        seed=int(run.cfg.get("seed", 0)),
        on_search=lambda p: print(f"k-NN: {p}"),
    )
    embedded = {  # host copies for k-means, the open-set protocol and the saved arrays
        part: (e.cpu().numpy(), y.cpu().numpy().astype(np.int64))
        for part, (e, y) in on_device.items()
    }
    result = {f"{split}/{k}": float(v) for k, v in metrics.items()}
    result["embed_time_s"] = round(embed_time, 3)
    result["eval_time_s"] = round(time.perf_counter() - start - embed_time, 3)

    name = f"{run.ckpt.stem}-{run.cfg.data.get('name', 'data')}-{split}"
    out = Path(options["out"]) if options["out"] else run.run_dir / "eval" / name
    if options["openset"]:  # see metriclab.commands.openset_eval
        seed = int(run.cfg.get("seed", 0))
        result.update(openset_metrics(list(embedded.values()), split, options, out, seed))
    write_json_atomic(out / "metrics.json", result)
    if options["save_embeddings"]:
        for part, (emb, labels) in embedded.items():
            np.save(out / f"{part}_embeddings.npy", emb)
            np.save(out / f"{part}_labels.npy", labels)
            names = item_names(datamodule.datasets[part], part)
            (out / f"{part}_items.json").write_text(json.dumps(names), encoding="utf-8")
    return result, out


def run(cfg: DictConfig) -> dict[str, float]:
    """The command on its composed config (``configs/eval.yaml``): reopen the run with
    ``run_overrides`` applied, evaluate it, print the table; returns the metrics."""
    options = app.options(cfg, CONFIG)
    reopened = open_run(options["ckpt_path"], options["run_overrides"])
    metrics, out = evaluate_run(reopened, options)
    print(metrics_table(metrics, title=f"{reopened.ckpt.name} on {options['split']}"))
    print(f"wrote {out / 'metrics.json'}")
    return metrics


def main(argv: list[str]) -> int:
    """``python scripts/eval.py ARGV`` in this process (see :func:`metriclab.commands.app.main`);
    returns the exit status (2 with one ``error:`` line for a user mistake)."""
    return app.main(CONFIG, argv, run)
