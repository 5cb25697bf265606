"""Data: readers of the official layouts, datasets, transforms, batch samplers, the datamodule."""

from metriclab.data.base import Split
from metriclab.data.datamodule import MetricDataModule
from metriclab.data.dataset import MetricDataset
from metriclab.data.samplers import MPerClassSampler, RandomBatchSampler

__all__ = ["MPerClassSampler", "MetricDataModule", "MetricDataset", "RandomBatchSampler", "Split"]
