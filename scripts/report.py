"""Compare the runs under a run or sweep directory: ``python scripts/report.py DIR [--metric M]``.

Writes ``report.csv``, ``report.md`` and ``report.png`` into DIR (one row per run, sorted by the
optimized metric, failed runs last); see :mod:`metriclab.runs.compare`.
"""

import sys

from metriclab.runs.compare import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
