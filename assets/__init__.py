"""Dagster assets: one module per corpus stage. Thin: read, call corpuslake, write, report."""
