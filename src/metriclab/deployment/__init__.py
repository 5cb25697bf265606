"""Deployment: what using a trained model outside training needs, and nothing that runs it as a
command (the front-ends are :mod:`metriclab.commands`, the HTTP service :mod:`metriclab.service`).

- :mod:`~metriclab.deployment.loading`: every way a model is loaded: a run reopened from its
  checkpoint and saved config, or an exported TorchScript / ONNX embedder;
- :mod:`~metriclab.deployment.embedding`: embedding a dataset split or image files with a model;
- :mod:`~metriclab.deployment.index`: the exported gallery index (``index.faiss`` +
  ``index.json``), its kinds, searching it, removing rows;
- :mod:`~metriclab.deployment.bundle`: the classifier side of an export (class centroids,
  decisions, the calibrated open-set threshold);
- :mod:`~metriclab.deployment.frontier`: the operating points of compressed and approximate
  indexes (prefix x code x index), measured and their Pareto front.
"""
