"""Learning-rate schedules: ``configs/scheduler/<name>.yaml`` -> ``schedulers/<name>.py``.

Each is a factory ``(optimizer, total_steps, steps_per_epoch, **options) -> LambdaLR`` that the
config (``_partial_: true``) fills with its own options; the training module supplies the step
counts from the trainer, and steps the schedule once per optimizer step. A new schedule is one
file here named like its YAML, one config, and ``tests/schedulers/test_<name>.py``.
"""

from metriclab.schedulers.cosine import warmup_cosine
from metriclab.schedulers.step import warmup_step

__all__ = ["warmup_cosine", "warmup_step"]
