"""``scripts/eval.py openset=true``: the recognition protocol on the embedded split, and its plot.

Runs :func:`metriclab.recognition.metrics.recognition_metrics` on the split's embeddings (all
parts together, in dataset order) and writes ``precision_coverage.png`` beside ``metrics.json``:
the calibration half's precision-coverage curve with the chosen threshold marked. Keys, prefixed
``<split>/``: ``closed/{knn,centroid}_acc@{1,5,all}``, ``openset/{knn,centroid}_auroc``,
``openset/threshold``, ``openset/calib_precision``, ``openset/{precision,coverage,accuracy,
known_accept,unknown_accept}`` (on the held-out half), ``verify/{tar@far,fnmr@fmr}=...``.
Its settings are the ``openset*`` and ``target_precision`` keys of ``configs/eval.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metriclab.errors import ConfigError
from metriclab.pictures.curves import precision_coverage
from metriclab.recognition.calibrate import temperature_options
from metriclab.recognition.metrics import recognition_metrics


def openset_metrics(
    embedded: list[tuple[np.ndarray, np.ndarray]],
    split: str,
    options: dict[str, Any],
    out: Path,
    seed: int = 0,
) -> dict[str, float]:
    """The ``<split>/...`` recognition metrics of the embedded parts; writes the plot to ``out``."""
    emb = np.concatenate([e for e, _ in embedded])
    labels = np.concatenate([y for _, y in embedded])
    if options["openset_classifier"] not in ("knn", "centroid"):
        raise ConfigError(
            f"openset_classifier={options['openset_classifier']}: choose knn or centroid"
        )
    temperature_options(options["openset_temperature"], "openset_temperature")  # one line if bad
    counts = np.bincount(labels - labels.min())
    if counts[counts > 0].min() <= options["openset_enroll"]:
        raise ConfigError(
            f"openset_enroll={options['openset_enroll']}: a class of split={split} has only "
            f"{counts[counts > 0].min()} images, none left to query; lower openset_enroll"
        )
    metrics, block = recognition_metrics(
        emb,
        labels,
        enroll=options["openset_enroll"],
        k=options["openset_k"],
        method=options["openset_classifier"],
        temperature=options["openset_temperature"],
        target_precision=options["target_precision"],
        strangers=options["openset_strangers"],
        seed=seed,
    )
    out.mkdir(parents=True, exist_ok=True)
    title = f"{split}: {options['openset_classifier']}"
    precision_coverage(block, out / "precision_coverage.png", title)
    return {f"{split}/{k}": float(v) for k, v in metrics.items()}
