"""Deduplication: exact hashes, MinHash signatures with LSH bands, clusters, and paragraph dedup."""
