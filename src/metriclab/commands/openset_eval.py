"""``scripts/eval.py openset=true``: the recognition protocol on the embedded split, and its plot.

Runs :func:`metriclab.recognition.metrics.recognition_metrics` on the split's embeddings (all
parts together, in dataset order) and writes ``precision_coverage.png`` beside ``metrics.json``:
the calibration half's precision-coverage curve with the chosen threshold marked. Keys, prefixed
``<split>/``: ``closed/{knn,centroid}_acc@{1,5,all}``, ``openset/{knn,centroid}_auroc``,
``openset/threshold``, ``openset/calib_precision``, ``openset/{precision,coverage,accuracy,
known_accept,unknown_accept}`` (on the held-out half), ``verify/{tar@far,fnmr@fmr}=...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metriclab.errors import ConfigError
from metriclab.recognition.calibrate import temperature_options
from metriclab.recognition.metrics import recognition_metrics

#: The options ``scripts/eval.py`` adds for this mode (see :data:`serving.evaluate.OPTIONS`).
OPENSET_OPTIONS: dict[str, Any] = {
    "openset": False,  # also the classification / open-set / verification metrics
    "openset_enroll": 5,  # images enrolled per known class for the open-set part
    "openset_k": 5,  # neighbours that vote
    "openset_classifier": "knn",  # knn or centroid: the one calibrated
    "openset_temperature": "0",  # centroid confidence: softmax temperature (0: the cosine); auto:
    # whichever of 0, 0.02, 0.05, 0.1, 0.2 answers the most queries of the calibration half
    "target_precision": 0.95,  # the precision the threshold is calibrated for
    "openset_strangers": "item",  # item: halves split each class; class: unknown classes whole
}


def plot_curve(block: dict[str, Any], path: Path, title: str) -> Path:
    """Precision vs coverage of the calibration half, the chosen threshold as a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve, got = block["curve"], block["calibration"]
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(curve["coverage"], curve["precision"], label="calibration half")
    target = block["target"].get("precision")
    if target is not None:
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax.plot(
        [got["coverage"]],
        [got["precision"]],
        "o",
        color="red",
        label=f"threshold {block['threshold']:.3f}",
    )
    ax.set(
        xlabel="coverage (answered / queries)",
        ylabel="precision of answers",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


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
    plot_curve(block, out / "precision_coverage.png", f"{split}: {options['openset_classifier']}")
    return {f"{split}/{k}": float(v) for k, v in metrics.items()}
