"""Open-set recognition: classifying by centroids or k-NN votes, rejecting strangers and
calibrating the rejection."""
