"""Perplexity as a stored signal: a word n-gram language model estimated from reference prose (modified
interpolated Kneser-Ney, written as ARPA and queried with KenLM, as CCNet does), per-document perplexity,
and CCNet's head/middle/tail buckets per language."""
