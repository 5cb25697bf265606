"""Loggers: ``configs/logger/<name>.yaml`` -> ``loggers/<name>.py`` (when it is ours).

``logger=tensorboard`` builds :class:`~metriclab.loggers.tensorboard.RunTensorBoardLogger`;
``logger=csv`` is Lightning's ``CSVLogger`` and has no module here.
"""
