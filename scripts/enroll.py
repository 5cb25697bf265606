"""Add or remove a class in an exported index, without retraining.

``python scripts/enroll.py index=DIR add=FOLDER [name=CLASS]``: embed a folder of a class's
images (or a folder of class sub-folders) and append them; ``remove=CLASS`` drops a class.
Options: ``model=torchscript|onnx``, ``batch_size=N``, ``progress=false``. See
:mod:`metriclab.serving.enroll`.
"""

import sys

from metriclab.serving.enroll import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
