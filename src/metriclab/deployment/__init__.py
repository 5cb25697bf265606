"""Deployment: reopening a run and loading a model, embedding images, index kinds and their
frontier, the exported index and its bundle (centroids, calibration)."""
