"""The run directory and the files in it (README.md, "Each run has its own folder").

- :mod:`~metriclab.runs.run_dir`: writable, never reused by a new run, resumed on request;
- :mod:`~metriclab.runs.checkpoints`: ``ckpt_path`` found, read safely and checked against the
  model; every checkpoint written atomically;
- :mod:`~metriclab.runs.run_info`: ``run_info.json`` (what it takes to repeat the run);
- :mod:`~metriclab.runs.report`: ``metrics.json`` and every other file written atomically, and
  the printed metrics table.
- :mod:`~metriclab.runs.found`: the runs under a folder found and their files read back, for
  :mod:`~metriclab.runs.compare` (``scripts/report.py``) and :mod:`~metriclab.runs.reality_check`.

Training (:mod:`metriclab.pipeline`) and the commands (:mod:`metriclab.commands`) both use these.
"""
