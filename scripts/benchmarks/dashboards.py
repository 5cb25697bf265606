"""CPU cost of the dashboards per validation: ``python scripts/benchmarks/dashboards.py``.

Feeds :class:`~metriclab.callbacks.dashboards.RetrievalDashboard` the default run's validation
split (the 800 glyphs of characters 160-199) with random 128-d embeddings, as the evaluator
would, and prints the CPU and wall seconds of each of ``--repeats`` validations (grid, overlaid
similarity chart, two histograms).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from types import SimpleNamespace

import numpy as np
from PIL import Image
from pytorch_lightning.loggers import TensorBoardLogger

from metriclab.callbacks.dashboards import RetrievalDashboard
from metriclab.callbacks.evaluator import RetrievalEvaluator
from metriclab.data.readers.glyphs import read_glyphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    train = read_glyphs()["train"]
    items, labels = train.items[-800:], train.labels[-800:] - train.labels[-800:].min()
    dataset = SimpleNamespace(image=lambda i: Image.fromarray(items[i]))
    evaluator, dashboard = RetrievalEvaluator(), RetrievalDashboard()
    logger = TensorBoardLogger(tempfile.mkdtemp(), name="tb", version="")
    trainer = SimpleNamespace(
        is_global_zero=True,
        sanity_checking=False,
        loggers=[logger],
        callbacks=[evaluator],
        datamodule=SimpleNamespace(datasets={"val": dataset}),
        global_step=0,
        current_epoch=0,
    )
    x = np.random.default_rng(0).standard_normal((800, 128)).astype(np.float32)
    print("| validation | CPU s | wall s |\n|---|---|---|")
    for rep in range(args.repeats):
        evaluator.gathered[0] = (x + rep, labels, np.arange(800))  # a new tuple: logged again
        cpu, wall = time.process_time(), time.perf_counter()
        dashboard.on_validation_end(trainer, None)
        print(f"| {rep} | {time.process_time() - cpu:.3f} | {time.perf_counter() - wall:.3f} |")


if __name__ == "__main__":
    main()
