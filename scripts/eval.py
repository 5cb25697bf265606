"""Evaluate a trained checkpoint: ``python scripts/eval.py ckpt_path=PATH [options] [overrides]``.

Options (``key=value``): ``split=test|val|train``, ``save_embeddings=true``, ``nmi=false``,
``device=auto|cpu|cuda``, ``batch_size=N``, ``num_workers=N``, ``out=DIR``, ``progress=false``.
Any other ``key=value`` overrides the run's saved config (``data=cub data.root=DIR``). Writes
``RUN_DIR/eval/<checkpoint>-<data>-<split>/metrics.json``; see :mod:`metriclab.serving.evaluate`.
``openset=true`` adds closed-set accuracy, open-set AUROC, the calibrated threshold measured on a
held-out query half, TAR@FAR on pairs and ``precision_coverage.png`` (docs/classification.md).
"""

import sys

from metriclab.serving.evaluate import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
