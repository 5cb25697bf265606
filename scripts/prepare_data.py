"""Download, verify and extract an official dataset, then print the ``data.root`` to use.

    python scripts/prepare_data.py NAME --root DIR [--archive PATH ...] [--no-verify] [--no-local]

NAME is one of: cub, cars, cifar10, cifar100, sop, inshop, omniglot; see
:mod:`metriclab.data.prepare` (sources, checksums, local archives).
"""

import sys

from metriclab.data.prepare import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
