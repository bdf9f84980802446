"""The stages: pure functions from one table's rows (or a dump's files) to the next table's rows."""
