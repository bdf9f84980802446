"""Model-based quality: the labelled training set, the fastText classifier, scores, and selection."""
