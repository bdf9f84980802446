"""Content policies stored as signals: PII, bad words (toxicity and adult content), benchmark contamination."""
