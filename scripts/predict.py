"""Classify images with an exported index: ``python scripts/predict.py index=DIR query=PATH``.

Each query gets a class and a confidence, or ``unknown`` when the confidence is below the
threshold calibrated at export (``scripts/export.py calibrate=DIR``). Options:
``classifier=auto|knn|centroid``, ``k=N``, ``threshold=auto|none|VALUE``, ``out=DIR``,
``pictures=false``, ``model=torchscript|onnx``, ``thumbnail=96``, ``batch_size=N``,
``progress=false``. Writes ``predictions.csv``, ``predictions.json`` and a PNG per query into
``out`` (default ``INDEX_DIR/predictions``). See :mod:`metriclab.serving.predict`.
"""

import sys

from metriclab.serving.predict import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
