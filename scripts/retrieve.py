"""Search a saved index: ``python scripts/retrieve.py index=DIR query=PATH [k=5] [out=DIR]``.

``query`` is an image or a folder of images. Prints each query's top-``k`` gallery images with
their cosine similarity, label and path, and writes a PNG per query (the query beside its
neighbours: green frame = same label, red = another, grey = unknown) and an ``index.html`` page
into ``out`` (default ``INDEX_DIR/retrieval``). Options: ``model=torchscript|onnx``,
``thumbnail=128``, ``batch_size=N``, ``progress=false``. See :mod:`metriclab.serving.search`.
"""

import sys

from metriclab.serving.search import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
