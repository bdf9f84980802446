"""The Dagster code location of corpuslake: one Definitions object and its wiring."""
