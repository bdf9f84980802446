"""Domains as a stored signal: a versioned topic model (TF-IDF, SVD, k-means) and per-document labels."""
