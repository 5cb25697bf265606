"""From a trained checkpoint to an image search: evaluate, export, index, retrieve.

- :mod:`~metriclab.serving.reopen`: reopen a run (checkpoint + saved config + overrides), rebuild
  its model;
- :mod:`~metriclab.serving.embedding`: embed a dataset split or image files;
- :mod:`~metriclab.serving.evaluate`: ``scripts/eval.py``;
- :mod:`~metriclab.serving.export`: ``scripts/export.py`` (TorchScript, ONNX, FAISS index);
- :mod:`~metriclab.serving.search`: ``scripts/retrieve.py``;
- :mod:`~metriclab.render`: framed thumbnails, result sheets, the HTML page.
"""
