"""Training pipeline: the LightningModule, the evaluator callback and ``train(cfg)``."""

from metriclab.pipeline.evaluator import RetrievalEvaluator
from metriclab.pipeline.module import MetricLearningModule
from metriclab.pipeline.training import train

__all__ = ["MetricLearningModule", "RetrievalEvaluator", "train"]
