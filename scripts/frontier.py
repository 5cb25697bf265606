"""Every operating point of a trained model: ``python scripts/frontier.py ckpt_path=PATH``.

Options (``key=value``): ``dims=64,128,512`` (prefixes; default: the Matryoshka loss's, else the
full size), ``device=auto|cpu|cuda``, ``threads=N``, ``out=DIR``, ``tensorboard=false``. Other
``key=value`` tokens override the run's saved config (``data.root=DIR``). Writes
``RUN_DIR/frontier/frontier.{md,csv,json,png}``; see :mod:`metriclab.serving.frontier`.
"""

import sys

from metriclab.serving.frontier import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
