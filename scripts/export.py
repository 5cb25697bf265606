"""Export a checkpoint for search: ``python scripts/export.py ckpt_path=PATH [options]``.

Writes the embedder as TorchScript (``embedder.pt``) and ONNX (``embedder.onnx``), both checked
against the checkpoint (max |diff| <= ``atol``, 1e-4), and a FAISS index of a gallery
(``index.faiss`` + ``index.json`` with each image's path and label) into ``RUN_DIR/export/``.
Options: ``gallery=test|val|train|DIR`` (a split of the run's data or a folder of images),
``out=DIR``, ``onnx=false``, ``atol=1e-4``, ``batch_size=N``, ``progress=false``; other
``key=value`` tokens override the run's config. See :mod:`metriclab.serving.export`.
``calibrate=DIR [target_precision=0.95 | target_fmr=1e-3] [classifier=knn|centroid]`` also stores
the open-set threshold of ``scripts/predict.py`` in ``index.json`` (docs/classification.md).
"""

import sys

from metriclab.serving.export import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
