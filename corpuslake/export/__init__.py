"""Exports of a pin as token shards trainers read (Megatron's indexed dataset, datatrove's ``.ds`` files),
with a sidecar per shard mapping every token document back to its row, a held-out validation split, a
manifest (``export.json``) and a record in the lake. Layout: :mod:`corpuslake.export.pin_export`."""

from corpuslake.export.manifest import verify_export
from corpuslake.export.pin_export import ExportOptions, export_pin
from corpuslake.export.tokenizer import ExportTokenizer, TokenPolicy

__all__ = ["ExportOptions", "ExportTokenizer", "TokenPolicy", "export_pin", "verify_export"]
