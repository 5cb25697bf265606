"""Open-set recognition: classifying by centroids or k-NN votes, rejecting strangers and
calibrating the rejection.

- :mod:`~metriclab.recognition.classify`: centroid and k-NN classifiers and their confidences;
- :mod:`~metriclab.recognition.openset`: the open-set scores (AUROC, precision-coverage, TAR@FAR,
  thresholds at a precision or false-match rate);
- :mod:`~metriclab.recognition.calibrate`: the threshold (and temperature) calibrated on held-out
  queries for a target precision or false-match rate;
- :mod:`~metriclab.recognition.metrics`: ``recognition_metrics``, every number of the open-set
  protocol in one dict (closed-set accuracy, open-set AUROC, TAR@FAR).
"""
