"""metriclab: config-driven deep metric learning (Hydra + PyTorch Lightning + FAISS)."""

__version__ = "0.1.0"
