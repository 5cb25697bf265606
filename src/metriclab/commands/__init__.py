"""Command front-ends: what each command does with its config, one module per command.

- :mod:`~metriclab.commands.train`: ``train.py`` (refuses a mistake before Hydra starts, records
  the run, calls :func:`metriclab.pipeline.training.train`);
- :mod:`~metriclab.commands.evaluate` (``scripts/eval.py``; with ``openset=true`` also
  :mod:`~metriclab.commands.openset_eval`), :mod:`~metriclab.commands.export`,
  :mod:`~metriclab.commands.retrieve`, :mod:`~metriclab.commands.predict`,
  :mod:`~metriclab.commands.enroll`, :mod:`~metriclab.commands.frontier`: each ``run(cfg)`` of
  the Hydra app ``scripts/<name>.py`` with the primary config ``configs/<name>.yaml``;
- :mod:`~metriclab.commands.app`: what every ``scripts/`` command shares (unknown settings refused
  in one line, typed settings, ``ConfigError`` -> one ``error:`` line and exit status 2);
- :mod:`~metriclab.commands.arguments`: ``train.py``'s config checks (every key read by some part,
  the closest name for a typo).
"""
