"""Looking inside the stage tables: samples of documents per decision and the path of one document.

:mod:`corpuslake.inspect.samples` draws documents for a filter reason, a duplicate cluster, a quality-score
bucket, a language or a domain; :mod:`corpuslake.inspect.markdown` renders a few of them for an asset's
metadata; :mod:`corpuslake.inspect.why` follows one document through its dump's stages. Every read streams
a table version's batches with its filter pushed down, so memory depends on the batch, not on the dump.
"""
