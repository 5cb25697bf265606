"""Pictures: every image metriclab draws (PIL and matplotlib), data in, image or file out.

- :mod:`~metriclab.pictures.sheets`: retrieval result sheets (a query beside its framed,
  captioned neighbours), ``predict.py``'s answer banner, the TensorBoard grid's tiles, the HTML
  page that lists the sheets;
- :mod:`~metriclab.pictures.similarity`: the histograms of same-class and different-class pair
  similarities (the dashboards' ``val/similarity`` card);
- :mod:`~metriclab.pictures.report_charts`: ``scripts/report.py``'s ``report.png`` (a metric per
  run) and ``reality_check.png`` (a mean and 95 % interval per method);
- :mod:`~metriclab.pictures.curves`: ``frontier.png`` (Recall@1 vs bytes per vector) and
  ``precision_coverage.png`` (the open-set threshold's precision vs coverage).

The callers compute what is drawn; nothing here reads a run, a model or a config, and the package
imports no other metriclab package (it sits below ``runs``, ``callbacks``, ``deployment`` and
``commands``).
"""
