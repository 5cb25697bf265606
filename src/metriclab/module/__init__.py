"""The ``module`` config group: ``configs/module/default.yaml`` -> :mod:`.settings`
(:class:`~metriclab.module.settings.ModuleSettings`: learning-rate groups, speed, DDP), and the
LightningModule they configure (:mod:`.lightning`, built by :func:`metriclab.build.build_module`).
Tests: ``tests/module/``."""
