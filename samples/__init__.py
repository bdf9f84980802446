"""Builders of the committed sample data (the sample crawl, the quality training examples)."""
